import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCliArgs } from "../../src/cli/args.ts";
import { isProxyError } from "../../src/lib/errors.ts";

test("serve --log-format: text by default, json when asked, anything else a usage error naming the choices", () => {
  assert.equal(parseCliArgs(["serve", "https://mcp.example.com/mcp"], {}).serve.logFormat, "text");
  assert.equal(
    parseCliArgs(["serve", "https://mcp.example.com/mcp", "--log-format", "json"], {}).serve.logFormat,
    "json",
  );
  assert.throws(
    () => parseCliArgs(["serve", "https://mcp.example.com/mcp", "--log-format", "yaml"], {}),
    (error) => isProxyError(error, "USAGE") && /--log-format must be text or json, not "yaml"/.test(error.message),
  );
});
