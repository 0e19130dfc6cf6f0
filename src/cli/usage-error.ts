import { ProxyError } from "../lib/errors.ts";
import { usageLine } from "./help.ts";
import { nearestWord } from "./nearest.ts";

/**
 * Usage errors (exit 2): what was wrong, then the right form. With a command, the hint is its usage line and where
 * its options are listed; without one, the general help.
 */
export function usageError(message: string, command?: string, lead?: string): ProxyError {
  const line = command ? usageLine(command) : undefined;
  const form = line
    ? `${line}; run "mcp-u2m-proxy ${command} --help" for its options.`
    : 'Run "mcp-u2m-proxy --help" for usage.';
  return new ProxyError("USAGE", message, { hint: lead ? `${lead} ${form}` : form });
}

/** Other words people type for a command (mcp-remote's, other CLIs' sign-in verbs). */
export const COMMAND_ALIASES: Readonly<Record<string, string>> = {
  signin: "auth",
  login: "auth",
  "sign-in": "auth",
  "log-in": "auth",
  authenticate: "auth",
  authorize: "auth",
  logout: "clear",
  signout: "clear",
  "sign-out": "clear",
  "log-out": "clear",
  revoke: "clear",
  ls: "list",
  run: "serve",
  start: "serve",
  proxy: "serve",
  whoami: "status",
  config: "clients",
};

/** Options people type for one of ours (mcp-remote's names, spellings of the token directory). */
export const OPTION_ALIASES: Readonly<Record<string, string>> = {
  "--allow-http": "--allow-insecure-http",
  "--insecure": "--allow-insecure-http",
  "--token-dir": "--auth-dir",
  "--tokens-dir": "--auth-dir",
  "--config-dir": "--auth-dir",
  "--callback-port": "--port",
  "--listen-port": "--port",
  "--secret": "--client-secret",
  "--scopes": "--scope",
  "--headers": "--header",
  "--no-open": "--no-browser",
};

/** `Unknown command "signin". Did you mean "auth"?` plus that command's usage line, or the list of commands. */
export function unknownCommand(word: string, commands: readonly string[]): ProxyError {
  const shown = JSON.stringify(word.slice(0, 40));
  const nearest = nearestWord(word.toLowerCase(), commands, COMMAND_ALIASES);
  if (nearest) {
    return new ProxyError("USAGE", `Unknown command ${shown}. Did you mean "${nearest}"?`, {
      hint: `${usageLine(nearest) ?? `Usage: mcp-u2m-proxy ${nearest}`}; run "mcp-u2m-proxy ${nearest} --help" for its options.`,
    });
  }
  return new ProxyError("USAGE", `Unknown command ${shown}.`, {
    hint: `Commands: ${commands.join(", ")}; a server is given as its URL (https://…). Run "mcp-u2m-proxy --help".`,
  });
}

/**
 * What node:util parseArgs threw, as a usage error for `command`: an unknown option names the nearest known one
 * (`--prot` → `--port`), a missing value says which option needs one.
 */
export function optionError(error: unknown, options: readonly string[], command: string | undefined): ProxyError {
  const { code, message } = error as { code?: string; message: string };
  const quoted = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && quoted) {
    const flag = quoted.split("=", 1)[0] as string;
    const nearest = flag.startsWith("--") ? nearestWord(flag.toLowerCase(), options, OPTION_ALIASES) : undefined;
    return usageError(`Unknown option '${flag}'.`, command, nearest ? `Did you mean ${nearest}?` : undefined);
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && quoted) {
    const flag = quoted.split(/[ ,]/, 1)[0] as string;
    // Either nothing followed the option, or another option did (`--auth-dir --no-browser`).
    return usageError(
      `${flag} needs a value${/ambiguous/.test(message) ? `; to give one that starts with "-", write ${flag}=VALUE` : ""}.`,
      command,
    );
  }
  // Node's messages are long-winded; keep the first sentence.
  return usageError(`${message.split(/\.\s/)[0]?.replace(/\.$/, "")}.`, command);
}
