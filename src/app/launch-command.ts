import { realpathSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
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
  env?: NodeJS.ProcessEnv;
  /** The running script (process.argv[1]) and node (process.execPath). */
  script?: string | undefined;
  execPath?: string;
}

/**
 * The command that runs this very proxy on this machine, for the snippets the page, the demo and `clients` print:
 * `npx -y mcp-u2m-proxy` only when that is how it was started; the installed `mcp-u2m-proxy` when the one on PATH
 * is this one; else node with the absolute path of this script (a clone). It carries the token directory and
 * config in use, so that the host's stdio process shares this proxy's sign-in.
 */
export function launchCommand(context: LaunchContext): LaunchCommand {
  const env = context.env ?? process.env;
  const script = context.script ?? process.argv[1];
  let base: LaunchCommand;
  if (env.npm_command === "exec" && /mcp-u2m-proxy/.test(env.npm_config_package ?? env.npm_lifecycle_script ?? "")) {
    base = { command: "npx", args: ["-y", "mcp-u2m-proxy"] };
  } else if (script && onPath("mcp-u2m-proxy", env.PATH, script)) {
    base = { command: "mcp-u2m-proxy", args: [] };
  } else if (script) {
    base = { command: context.execPath ?? process.execPath, args: [realpathOr(script)] };
  } else {
    base = { command: "npx", args: ["-y", "mcp-u2m-proxy"] };
  }
  const extra: string[] = [];
  if (context.configPath) extra.push("--config", context.configPath);
  if (context.authDir !== context.defaultAuthDir) extra.push("--auth-dir", context.authDir);
  if (context.port !== undefined && context.port !== DEFAULT_PORT && context.port !== 0) {
    extra.push("--port", String(context.port));
  }
  return { command: base.command, args: [...base.args, ...extra] };
}

/** Whether `name` on PATH is the same file as `script` (an install, not an older copy elsewhere). */
function onPath(name: string, path: string | undefined, script: string): boolean {
  const target = realpathOr(script);
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
