// The CLI as a newcomer gets it: `npm pack` of this checkout, installed into a temporary prefix the way
// `npm install -g <tarball>` lays it out (<prefix>/lib/node_modules/mcp-u2m-proxy + <prefix>/bin/mcp-u2m-proxy).
// Dependencies come from this checkout's node_modules (linked, not downloaded): tests never need the network.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dirname, "../../..");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface InstalledCli {
  /** The temporary prefix (contains bin/ and lib/node_modules/). */
  prefix: string;
  /** `<prefix>/bin/mcp-u2m-proxy`, a symlink to the package's bin as npm makes it. */
  bin: string;
  /** The packed tarball. */
  tarball: string;
  /** Runs the installed command (through `node`, as its shebang would) and collects its output. */
  run(args: string[], options?: { env?: Record<string, string>; input?: string; timeoutMs?: number }): Promise<CliRun>;
  /** Starts the installed command and leaves it running (the caller ends it). */
  start(args: string[], options?: { env?: Record<string, string> }): ChildProcess;
  /** The environment every run gets: PATH with `<prefix>/bin` first, HOME in the temp dir, no CI noise. */
  env: Record<string, string>;
  remove(): void;
}

/** Packs and installs once per test file (about 2 s). */
export function installCliFromTarball(): InstalledCli {
  const prefix = mkdtempSync(join(tmpdir(), "mcp-u2m-proxy-install-"));
  const packDir = join(prefix, "pack");
  mkdirSync(packDir);
  // dist/ is what ships: build it if this checkout has none (npm ci builds it through `prepare`).
  if (!existsSync(join(REPO, "dist/main.js"))) execFileSync("npm", ["run", "build", "--silent"], { cwd: REPO });
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", packDir], {
      cwd: REPO,
      encoding: "utf8",
    }),
  ) as { filename: string }[];
  const tarball = join(packDir, (packed[0] as { filename: string }).filename);
  const packageDir = join(prefix, "lib/node_modules/mcp-u2m-proxy");
  mkdirSync(packageDir, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", packageDir, "--strip-components=1"]);
  symlinkSync(join(REPO, "node_modules"), join(packageDir, "node_modules"), "dir");
  const manifest = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as {
    bin: Record<string, string>;
  };
  const binTarget = join(packageDir, manifest.bin["mcp-u2m-proxy"] as string);
  mkdirSync(join(prefix, "bin"));
  const bin = join(prefix, "bin/mcp-u2m-proxy");
  symlinkSync(binTarget, bin);
  chmodSync(binTarget, 0o755);
  const home = join(prefix, "home");
  mkdirSync(home);
  const env: Record<string, string> = {
    PATH: `${join(prefix, "bin")}:${process.env.PATH ?? ""}`,
    HOME: home,
    // A browser that does nothing: tests that sign in set their own.
    BROWSER: "true",
  };
  const spawnCli = (args: string[], extra: Record<string, string> = {}) =>
    spawn(process.execPath, [bin, ...args], {
      cwd: home,
      env: { ...env, ...extra },
      stdio: ["pipe", "pipe", "pipe"],
    });
  return {
    prefix,
    bin,
    tarball,
    env,
    start: (args, options = {}) => spawnCli(args, options.env),
    run: (args, options = {}) =>
      new Promise((resolvePromise, reject) => {
        const child = spawnCli(args, options.env);
        let stdout = "";
        let stderr = "";
        child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
          stdout += chunk;
        });
        child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
          stderr += chunk;
        });
        const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
        child.on("error", reject);
        child.on("close", (code) => {
          clearTimeout(timer);
          resolvePromise({ code, stdout, stderr });
        });
        child.stdin?.end(options.input);
      }),
    remove: () => rmSync(prefix, { recursive: true, force: true }),
  };
}
