// The command the snippets name for running this proxy: decided from where the running script is (an install on
// PATH, npx's cache, a clone) and which token directory, config and port are in use.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { launchCommand } from "../../src/app/launch-command.ts";

const root = realpathSync(mkdtempSync(join(tmpdir(), "u2m-launch-")));
after(() => rmSync(root, { recursive: true, force: true }));

const DEFAULTS = { authDir: "/home/u/.mcp/auth", defaultAuthDir: "/home/u/.mcp/auth", execPath: "/opt/node/bin/node" };

/** A package folder with dist/main.js, as npm lays one out. */
function packageAt(dir: string): string {
  mkdirSync(join(dir, "dist"), { recursive: true });
  const script = join(dir, "dist/main.js");
  writeFileSync(script, "#!/usr/bin/env node\n");
  return script;
}

describe("launchCommand", () => {
  test("an install whose bin on PATH is this script: the bare command", () => {
    const script = packageAt(join(root, "prefix/lib/node_modules/mcp-u2m-proxy"));
    mkdirSync(join(root, "prefix/bin"));
    const bin = join(root, "prefix/bin/mcp-u2m-proxy");
    symlinkSync(script, bin);
    const launch = launchCommand({ ...DEFAULTS, script: bin, env: { PATH: `/usr/bin:${join(root, "prefix/bin")}` } });
    assert.deepEqual(launch, { command: "mcp-u2m-proxy", args: [] });
  });

  test("a clone (nothing on PATH, or another copy there): node with the script's absolute path", () => {
    const script = packageAt(join(root, "clone"));
    assert.deepEqual(launchCommand({ ...DEFAULTS, script, env: { PATH: "/usr/bin" } }), {
      command: "/opt/node/bin/node",
      args: [script],
    });
    const other = join(root, "other-bin");
    mkdirSync(other);
    writeFileSync(join(other, "mcp-u2m-proxy"), "#!/bin/sh\n");
    assert.deepEqual(launchCommand({ ...DEFAULTS, script, env: { PATH: other } }).args, [script]);
  });

  test("a clone run from its sources: node with the built dist/main.js", () => {
    const script = packageAt(join(root, "sources"));
    mkdirSync(join(root, "sources/src"));
    writeFileSync(join(root, "sources/src/main.ts"), "");
    const launch = launchCommand({ ...DEFAULTS, script: join(root, "sources/src/main.ts"), env: { PATH: "" } });
    assert.deepEqual(launch.args, [script]);
  });

  test("started by npx: npx -y with what npx was given (a tarball's absolute path, a registry version)", () => {
    const tarball = join(root, "work/mcp-u2m-proxy-0.1.0.tgz");
    mkdirSync(join(root, "work"));
    writeFileSync(tarball, "");
    const fromTarball = join(root, "npm/_npx/aaaa");
    const script = packageAt(join(fromTarball, "node_modules/mcp-u2m-proxy"));
    writeFileSync(
      join(fromTarball, "package.json"),
      JSON.stringify({
        dependencies: { "mcp-u2m-proxy": "file:../../../work/mcp-u2m-proxy-0.1.0.tgz" },
        _npx: { packages: ["./mcp-u2m-proxy-0.1.0.tgz"] },
      }),
    );
    const npxBin = join(fromTarball, "node_modules/.bin");
    mkdirSync(npxBin);
    symlinkSync(script, join(npxBin, "mcp-u2m-proxy"));
    const env = { npm_command: "exec", PATH: npxBin };
    assert.deepEqual(launchCommand({ ...DEFAULTS, script: join(npxBin, "mcp-u2m-proxy"), env }), {
      command: "npx",
      args: ["-y", `file:${tarball}`],
    });
    // Without npx's hint the cached copy is run by path: the bare name on npx's PATH works only inside npx.
    assert.deepEqual(launchCommand({ ...DEFAULTS, script, env: { PATH: npxBin } }), {
      command: "/opt/node/bin/node",
      args: [script],
    });

    const fromRegistry = join(root, "npm/_npx/bbbb");
    const published = packageAt(join(fromRegistry, "node_modules/mcp-u2m-proxy"));
    writeFileSync(
      join(fromRegistry, "package.json"),
      JSON.stringify({ dependencies: { "mcp-u2m-proxy": "0.1.0" }, _npx: { packages: ["mcp-u2m-proxy@0.1.0"] } }),
    );
    assert.deepEqual(launchCommand({ ...DEFAULTS, script: published, env }).args, ["-y", "mcp-u2m-proxy@0.1.0"]);
    writeFileSync(
      join(fromRegistry, "package.json"),
      JSON.stringify({ dependencies: { "mcp-u2m-proxy": "^0.1.0" }, _npx: { packages: ["mcp-u2m-proxy"] } }),
    );
    assert.deepEqual(launchCommand({ ...DEFAULTS, script: published, env }).args, ["-y", "mcp-u2m-proxy"]);
  });

  test("npm exec of a project's own dependency is not npx's cache: node with its path", () => {
    const script = packageAt(join(root, "project/node_modules/mcp-u2m-proxy"));
    const launch = launchCommand({ ...DEFAULTS, script, env: { npm_command: "exec", PATH: "/usr/bin" } });
    assert.deepEqual(launch.args, [script]);
  });

  test("names the config, a token directory other than the default and a port other than 8000", () => {
    const script = packageAt(join(root, "opts"));
    const base = { ...DEFAULTS, script, env: { PATH: "" } };
    assert.deepEqual(launchCommand({ ...base, port: 8000 }).args, [script]);
    assert.deepEqual(launchCommand({ ...base, authDir: "/tmp/d", configPath: "/etc/u2m.json", port: 9100 }).args, [
      script,
      "--config",
      "/etc/u2m.json",
      "--auth-dir",
      "/tmp/d",
      "--port",
      "9100",
    ]);
  });
});
