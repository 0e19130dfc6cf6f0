// Every flag the parser accepts is described in some command's help and in the README's options table, so the
// three cannot drift apart.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { COMMAND_FLAGS, FLAGS } from "../../src/cli/help.ts";

const ARGS_SOURCE = readFileSync(new URL("../../src/cli/args.ts", import.meta.url), "utf8");
const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const accepted = [
  ...ARGS_SOURCE.slice(0, ARGS_SOURCE.indexOf("} as const")).matchAll(/^ {2}"?([a-z][a-z-]*)"?: \{ type:/gm),
].map((match) => `--${match[1]}`);

test("the parser's flags were found", () => {
  assert.ok(accepted.length > 25, accepted.join(" "));
});

for (const flag of accepted) {
  test(`${flag} is in a command's help and in the README`, () => {
    const described = Object.keys(FLAGS).some((entry) => entry.split(/[ ,]/)[0] === flag);
    assert.ok(described, `${flag} has no help text`);
    const listed = Object.values(COMMAND_FLAGS).some((flags) => flags.some((entry) => entry.split(/[ ,]/)[0] === flag));
    assert.ok(listed || flag === "--help" || flag === "--version", `${flag} is in no command's help`);
    assert.ok(README.includes(`\`${flag}`), `${flag} is missing from README.md`);
  });
}
