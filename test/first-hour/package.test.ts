// First hour, install: what `npm pack` ships is what a newcomer runs. The tarball holds the executable bin, dist/,
// the README (and LICENSE when there is one) and nothing of the tests; once installed it runs.
//
// Running it: `npx ./<tarball>` has to resolve the dependencies' versions, which npm only does offline when the
// registry's answers are in its cache. So the tarball always runs from the harness (installed into a temp prefix
// as `npm install -g <tarball>` lays it out, dependencies linked from this checkout, no network), and the literal
// `npx ./<tarball> --version` runs with npm_config_offline=true; it is skipped, saying so, when npm's cache cannot
// resolve the dependencies without the network.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { type InstalledCli, installCliFromTarball } from "./support/installed-cli.ts";

const REPO = resolve(import.meta.dirname, "../..");
const manifest = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
  version: string;
  bin: Record<string, string>;
  main: string;
  types: string;
  scripts: Record<string, string>;
};

interface PackedFile {
  path: string;
  mode: number;
}

let cli: InstalledCli;
let files: PackedFile[];
before(() => {
  cli = installCliFromTarball();
  // --ignore-scripts: the harness built dist/ already; prepare would rebuild it under other tests' feet.
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: REPO, encoding: "utf8" }),
  ) as { files: PackedFile[] }[];
  files = (packed[0] as { files: PackedFile[] }).files;
});
after(() => cli.remove());

describe("npm pack contents", () => {
  test("the bin is dist/main.js, executable, with a node shebang", () => {
    assert.equal(manifest.bin["mcp-u2m-proxy"], "dist/main.js");
    const bin = files.find((file) => file.path === "dist/main.js");
    assert.ok(bin, "dist/main.js is packed");
    // The installed copy is the tarball's bytes and mode.
    const installed = join(cli.prefix, "lib/node_modules/mcp-u2m-proxy/dist/main.js");
    assert.match(readFileSync(installed, "utf8").split("\n")[0] ?? "", /^#!\/usr\/bin\/env node$/);
    const tarList = execFileSync("tar", ["-tvzf", cli.tarball], { encoding: "utf8" });
    const line = tarList.split("\n").find((entry) => entry.endsWith(" package/dist/main.js"));
    assert.match(line ?? "", /^-rwxr-xr-x /, `the tarball's dist/main.js is executable: ${line}`);
    assert.ok((statSync(installed).mode & 0o111) !== 0);
  });

  test("dist/ with the entry points, the README, LICENSE when the checkout has one, package.json", () => {
    const paths = new Set(files.map((file) => file.path));
    for (const path of [manifest.main, manifest.types, "README.md", "package.json"]) {
      assert.ok(paths.has(path), `${path} is packed`);
    }
    assert.ok(files.filter((file) => file.path.startsWith("dist/")).length > 50, "the whole of dist/");
    for (const license of ["LICENSE", "LICENSE.md", "LICENSE.txt"]) {
      if (existsSync(join(REPO, license))) assert.ok(paths.has(license), `${license} is packed`);
    }
  });

  test("no tests, fixtures, TypeScript sources or checkout tooling", () => {
    const unwanted = files
      .map((file) => file.path)
      .filter(
        (path) =>
          /(^|\/)(test|tests|__tests__|fixtures?|e2e|bench|demo|scripts|src|node_modules)\//.test(path) ||
          /\.(test|spec)\.[cm]?[jt]s(\.map)?$/.test(path) ||
          (/\.[cm]?ts$/.test(path) && !/\.d\.[cm]?ts$/.test(path)) ||
          /^(tsconfig.*\.json|biome\.json|package-lock\.json|\.env.*)$/.test(path),
      );
    assert.deepEqual(unwanted, []);
  });

  test("prepare builds dist/ (npm ci and installs from git run it) and the build marks the bin executable", () => {
    assert.match(manifest.scripts.prepare ?? "", /\bnpm run build\b/);
    assert.match(manifest.scripts.build ?? "", /tsc -p tsconfig\.build\.json/);
    assert.match(manifest.scripts.build ?? "", /chmod \+x dist\/main\.js/);
  });
});

describe("the packed CLI runs", () => {
  test("installed from the tarball: `mcp-u2m-proxy --version` by name on PATH, as a shell runs it", async () => {
    // By name, not through node: the shebang and the executable bit are what make this work.
    const run = await spawnCollect("mcp-u2m-proxy", ["--version"], cli.env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), manifest.version);
  });

  test("`npx ./<tarball> --version`, offline", async (t) => {
    const cache = execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim();
    const npxDirs = () => new Set(existsSync(join(cache, "_npx")) ? readdirSync(join(cache, "_npx")) : []);
    const before = npxDirs();
    try {
      const run = await spawnCollect(
        "npx",
        ["-y", `./${basename(cli.tarball)}`, "--version"],
        {
          ...process.env,
          npm_config_offline: "true",
          npm_config_update_notifier: "false",
          npm_config_fund: "false",
          npm_config_audit: "false",
        },
        dirname(cli.tarball),
      );
      if (run.code !== 0 && /ENOTCACHED/.test(run.stderr)) {
        t.skip("npm's cache cannot resolve the dependencies offline (npx needs the registry for them)");
        return;
      }
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), manifest.version);
    } finally {
      // npx installed the tarball into a folder of its cache named for this temp path: remove only that one.
      for (const dir of npxDirs()) {
        if (before.has(dir)) continue;
        const record = join(cache, "_npx", dir, "package.json");
        if (existsSync(record) && readFileSync(record, "utf8").includes(basename(cli.prefix))) {
          rmSync(join(cache, "_npx", dir), { recursive: true, force: true });
        }
      }
    }
  });
});

function spawnCollect(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.once("error", reject);
    child.once("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}
