// Every flag the parser accepts is described in some command's help and in the README's options table, and each
// command's help lists exactly the flags it takes, so the three cannot drift apart.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { COMMANDS } from "../../src/cli/args.ts";
import { COMMAND_FLAGS, FLAGS, helpFor, usageLine } from "../../src/cli/help.ts";

const ARGS_SOURCE = readFileSync(new URL("../../src/cli/args.ts", import.meta.url), "utf8");
const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const accepted = [
  ...ARGS_SOURCE.slice(0, ARGS_SOURCE.indexOf("} as const")).matchAll(/^ {2}"?([a-z][a-z-]*)"?: \{ type:/gm),
].map((match) => `--${match[1]}`);
/** The first cells of the README's tables: where an option is documented. */
const readmeRows = README.split("\n")
  .filter((line) => line.startsWith("| `"))
  .map((line) => line.split("|")[1] ?? "");
const flagOf = (entry: string) => entry.split(/[ ,]/)[0] as string;

test("the parser's flags were found", () => {
  assert.ok(accepted.length > 25, accepted.join(" "));
});

for (const flag of accepted) {
  test(`${flag} is in a command's help and in the README's options table`, () => {
    assert.ok(
      Object.keys(FLAGS).some((entry) => flagOf(entry) === flag),
      `${flag} has no help text`,
    );
    const listed = Object.values(COMMAND_FLAGS).some((flags) => flags.some((entry) => flagOf(entry) === flag));
    assert.ok(listed || flag === "--help" || flag === "--version", `${flag} is in no command's help`);
    assert.ok(
      readmeRows.some((cell) => cell.includes(`\`${flag}\``) || cell.includes(`\`${flag} `)),
      `${flag} is missing from README.md's options table`,
    );
  });
}

for (const command of COMMANDS.filter((name) => name !== "help")) {
  test(`${command} --help lists exactly the flags it takes, each described`, () => {
    const takes = COMMAND_FLAGS[command];
    assert.ok(takes, `${command} has no entry in COMMAND_FLAGS`);
    assert.ok(usageLine(command)?.startsWith(`Usage: mcp-u2m-proxy `), `${command} has no usage line`);
    const help = helpFor(command);
    const shown = [...help.matchAll(/^ {2}(--[a-z-]+)/gm)].map((match) => match[1]);
    assert.deepEqual(shown.sort(), [...takes.map(flagOf), "--help"].sort());
    for (const entry of takes) assert.ok(FLAGS[entry], `${entry} (${command}) has no description`);
  });
}

test("--port is described as the port serve listens on, which the OAuth callback uses too", () => {
  assert.match(helpFor("serve"), /--port N +the port serve listens on, which the OAuth callback/);
  assert.ok(readmeRows.some((cell) => cell.includes("`--port N`")));
  assert.match(README, /\| `--port N` .*The port `serve` listens on; the OAuth callback .* uses it too/);
});

test("commands that read no sign-in options do not list them", () => {
  for (const command of ["status", "refresh", "clear", "list"]) {
    assert.doesNotMatch(helpFor(command), /--no-browser|--scope|--callback-host|--authorize-param|--force|--api-key/);
  }
});
