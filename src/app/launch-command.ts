import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { delimiter, dirname, join, resolve, sep } from "node:path";
import { type Environment, readEnvironment } from "../config/environment.ts";
import { DEFAULT_PORT } from "../config/options.ts";

/** How a host launches this proxy: a command and the arguments before the subcommand (`stdio <url>`). */
export interface LaunchCommand {
  command: string;
  args: string[];
}

export interface LaunchContext {
  /** The token directory in use, and the default one (it is named only when it differs). */
  authDir: string;
  defaultAuthDir: string;
  /** The config file in use, if any. */
  configPath?: string | undefined;
  /** The callback port in use (named when not the default: the stored registration's redirect URI has it). */
  port?: number | undefined;
  /**
   * The user's own options that select the same client and sign-in (`--client-id`, `--scope`, `--use-id-token`,
   * `--store-key-file`, …), as given on the command line and with secrets as placeholders: without them the host's
   * stdio process would look for another grant.
   */
  options?: readonly string[] | undefined;
  /** The environment to read PATH and npm_command from (default: the process's). */
  env?: NodeJS.ProcessEnv;
  /** The running script (process.argv[1]) and node (process.execPath). */
  script?: string | undefined;
  execPath?: string;
}

/** The package name: the published form is `npx -y mcp-u2m-proxy`. */
const PACKAGE = "mcp-u2m-proxy";

/**
 * The command that runs this very proxy on this machine, for the snippets the page, the demo and `clients` print:
 * `npx -y <what npx was given>` only when npx started it; the installed `mcp-u2m-proxy` when the one on PATH is this
 * one; else node with the absolute path of this script (a clone). It carries the token directory, config and sign-in
 * options in use, so that the host's stdio process shares this proxy's sign-in.
 */
export function launchCommand(context: LaunchContext): LaunchCommand {
  const base = baseCommand(readEnvironment(context.env), context.script ?? process.argv[1], context.execPath);
  const extra: string[] = [];
  if (context.configPath) extra.push("--config", context.configPath);
  if (context.authDir !== context.defaultAuthDir) extra.push("--auth-dir", context.authDir);
  if (context.port !== undefined && context.port !== DEFAULT_PORT && context.port !== 0) {
    extra.push("--port", String(context.port));
  }
  return { command: base.command, args: [...base.args, ...extra, ...(context.options ?? [])] };
}

function baseCommand(env: Environment, script: string | undefined, execPath?: string): LaunchCommand {
  // No script (an embedding that is not the CLI): the published form is all there is to say.
  if (!script) return { command: "npx", args: ["-y", PACKAGE] };
  const real = builtScript(realpathOr(script));
  const node = { command: execPath ?? process.execPath, args: [real] };
  const npxRoot = npxCacheRoot(real);
  if (npxRoot) {
    // npx puts its cache's bin on PATH: the bare name works only inside npx, never for a host.
    const spec = env.npmCommand === "exec" ? npxPackageSpec(npxRoot) : undefined;
    return spec ? { command: "npx", args: ["-y", spec] } : node;
  }
  if (onPath(PACKAGE, env.path, real)) return { command: PACKAGE, args: [] };
  return node;
}

/** A clone run from its sources (`tsx src/main.ts`): node runs the built dist/main.js, not the TypeScript. */
function builtScript(script: string): string {
  if (!script.endsWith(`${sep}src${sep}main.ts`)) return script;
  const built = join(dirname(dirname(script)), "dist", "main.js");
  return existsSync(built) ? built : script;
}

/** `…/_npx/<hash>` when the script is a copy npx installed in its cache (`…/_npx/<hash>/node_modules/…`). */
function npxCacheRoot(script: string): string | undefined {
  const parts = script.split(sep);
  const at = parts.lastIndexOf("_npx");
  if (at < 0 || at + 2 >= parts.length || parts[at + 2] !== "node_modules") return undefined;
  return parts.slice(0, at + 2).join(sep);
}

/**
 * What npx was given, as recorded in its cache folder's package.json. A tarball or folder (`file:` spec) gets its
 * absolute path, so the snippet works from any directory; a registry request keeps its version
 * (`mcp-u2m-proxy@0.1.0`). Undefined when the record is unreadable or the tarball is gone.
 */
function npxPackageSpec(root: string): string | undefined {
  let manifest: { dependencies?: Record<string, string>; _npx?: { packages?: string[] } };
  try {
    manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as typeof manifest;
  } catch {
    return undefined;
  }
  const spec = manifest.dependencies?.[PACKAGE];
  if (spec === undefined) return undefined;
  if (spec.startsWith("file:")) {
    // `file:` kept: npx reads a bare path as a command to run, not as a package.
    const target = resolve(root, spec.slice("file:".length));
    return existsSync(target) ? `file:${target}` : undefined;
  }
  const requested = manifest._npx?.packages?.find((entry) => entry === PACKAGE || entry.startsWith(`${PACKAGE}@`));
  return requested ?? PACKAGE;
}

/** Whether `name` on PATH is the same file as `script` (an install, not an older copy elsewhere). */
function onPath(name: string, path: string | undefined, target: string): boolean {
  for (const dir of (path ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      if (statSync(candidate).isFile() && realpathSync(candidate) === target) return true;
    } catch {
      // not there
    }
  }
  return false;
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
