// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config files write ${VAR} on purpose
// Variables in config strings: ${VAR}, ${VAR:-default}, ${env:VAR}, the $${ escape, and errors that name the
// variable, the server and the key.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/config/config-file.ts";
import { expandVariables, VariableError } from "../../src/config/env-expand.ts";
import { isProxyError } from "../../src/lib/errors.ts";

const env = { HOST: "mcp.example.com", TOKEN: "t0k", EMPTY: "", SPACED: "a b" };

test("${VAR}, ${env:VAR} and ${VAR:-default} expand; text around them is kept", () => {
  assert.equal(expandVariables("https://${HOST}/mcp", env), "https://mcp.example.com/mcp");
  assert.equal(expandVariables("Bearer ${env:TOKEN}", env), "Bearer t0k");
  assert.equal(expandVariables("${MISSING:-fallback}", env), "fallback");
  assert.equal(expandVariables("${env:MISSING:-x}-${TOKEN}", env), "x-t0k");
  assert.equal(expandVariables("${MISSING:-}", env), "");
  assert.equal(expandVariables("${SPACED}", env), "a b");
  assert.equal(expandVariables("no variables", env), "no variables");
});

test("an empty variable counts as unset: the default applies, without one it is an error", () => {
  assert.equal(expandVariables("${EMPTY:-d}", env), "d");
  assert.throws(() => expandVariables("${EMPTY}", env), { name: "Error", message: "${EMPTY} is not set" });
});

test("a default may hold a reference: ${A:-${B}} and deeper", () => {
  assert.equal(expandVariables("${MISSING:-${TOKEN}}", env), "t0k");
  assert.equal(expandVariables("${A:-${B:-${HOST}}}/x", env), "mcp.example.com/x");
  assert.equal(expandVariables("${TOKEN:-${UNSET}}", env), "t0k", "an unused default is not expanded");
});

test("escapes: $${ is a literal ${; any other $ is literal", () => {
  assert.equal(expandVariables("$${TOKEN}", env), "${TOKEN}");
  assert.equal(expandVariables("pa$$word $TOKEN $", env), "pa$$word $TOKEN $");
  assert.equal(expandVariables("a$${b}${TOKEN}", env), "a${b}t0k");
});

test("unset, VS Code prompts and malformed references are errors naming what is wrong", () => {
  const cases: [string, VariableError["kind"], string][] = [
    ["https://${NOPE}/mcp", "unset", "NOPE"],
    ["${env:NOPE}", "unset", "NOPE"],
    ["${input:token}", "prompt", "input:token"],
    ["${env.TOKEN}", "malformed", "env.TOKEN"],
    ["${1}", "malformed", "1"],
    ["${TOKEN", "malformed", "TOKEN"],
    ["${}", "malformed", ""],
  ];
  for (const [text, kind, variable] of cases) {
    assert.throws(
      () => expandVariables(text, env),
      (error: unknown) => error instanceof VariableError && error.kind === kind && error.variable === variable,
      text,
    );
  }
});

test("a lookup function can layer values over the environment", () => {
  const layered = (name: string) => (name === "OVER" ? "mine" : env[name as keyof typeof env]);
  assert.equal(expandVariables("${OVER}/${HOST}", layered), "mine/mcp.example.com");
});

/** The CONFIG_INVALID error of parsing `servers`, with its message, hint and key. */
function configError(servers: Record<string, unknown>, vars: NodeJS.ProcessEnv = env) {
  try {
    parseConfig(JSON.stringify({ mcpServers: servers }), "/home/me/mcp-u2m-proxy.json", vars);
  } catch (error) {
    assert.ok(isProxyError(error, "CONFIG_INVALID"), String(error));
    return { message: error.message, hint: error.hint ?? "", key: error.details?.key };
  }
  assert.fail("expected a CONFIG_INVALID error");
}

test("in a config file, an unset variable names itself, the server and the key, with a fix", () => {
  const header = configError({ jira: { url: "https://${HOST}/mcp", headers: { "X-Api-Key": "${JIRA_KEY}" } } });
  assert.equal(
    header.message,
    'mcp-u2m-proxy.json: server "jira": "headers.X-Api-Key" uses ${JIRA_KEY}, which is not set.',
  );
  assert.match(header.hint, /Set JIRA_KEY in the proxy's environment, or give a default: \$\{JIRA_KEY:-value\}/);
  const secret = configError({
    a: { url: "https://a.example/mcp", "mcp-u2m-proxy": { oauth: { clientId: "c", clientSecret: "${A_SECRET}" } } },
  });
  assert.equal(secret.key, "mcp-u2m-proxy.oauth.clientSecret");
  assert.match(secret.message, /uses \$\{A_SECRET\}, which is not set/);
  const prompt = configError({ gh: { type: "http", url: "https://g.example/mcp", headers: { A: "${input:pat}" } } });
  assert.match(prompt.message, /"headers\.A" uses \$\{input:pat\}, a VS Code input prompt this proxy cannot show/);
  assert.match(prompt.hint, /\$\{env:NAME\}/);
  const malformed = configError({ m: { url: "https://${HOST/mcp" } });
  assert.equal(malformed.key, "url");
  assert.match(malformed.message, /is not a variable reference/);
});

test("mcp-remote entries: the entry's env is layered over the proxy's, read only when used", () => {
  const config = parseConfig(
    JSON.stringify({
      mcpServers: {
        r: {
          command: "npx",
          args: ["mcp-remote", "https://${HOST}/mcp", "--header", "Authorization:${AUTH_HEADER}"],
          env: { AUTH_HEADER: "Bearer ${TOKEN}", UNUSED: "${NOT_SET_ANYWHERE}" },
        },
      },
    }),
    "/home/me/mcp-u2m-proxy.json",
    env,
  );
  assert.equal(config.servers[0]?.url, "https://mcp.example.com/mcp");
  assert.equal(config.servers[0]?.headers.authorization, "Bearer t0k");
  const unset = configError({
    r: { command: "npx", args: ["mcp-remote", "https://a.example/mcp", "--header", "X:${H}"], env: { H: "${NOPE}" } },
  });
  assert.equal(unset.key, "env.H");
  assert.match(unset.message, /server "r": "env\.H" uses \$\{NOPE\}, which is not set/);
  const arg = configError({ r: { command: "npx", args: ["mcp-remote", "https://${NOPE_HOST}/mcp"] } });
  assert.equal(arg.key, "args[1]");
});

test("a header that expands to nothing is left out (an empty Authorization would switch OAuth off)", () => {
  const config = parseConfig(
    JSON.stringify({ mcpServers: { a: { url: "https://a.example/mcp", headers: { Authorization: "${TOKEN_X:-}" } } } }),
    "/home/me/mcp-u2m-proxy.json",
    env,
  );
  assert.deepEqual(config.servers[0]?.headers, {});
});
