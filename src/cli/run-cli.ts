import { readEnvironment } from "../config/environment.ts";
import { keychainStoreKey } from "../config/keychain-store-key.ts";
import { describeError, isProxyError, ProxyError } from "../lib/errors.ts";
import { setSuggestionRenderer } from "../lib/suggestions.ts";
import { type CliArgs, parseCliArgs } from "./args.ts";
import { EXIT, exitCodeFor } from "./exit-codes.ts";
import { helpFor } from "./help.ts";
import { configFor } from "./resolve-server.ts";
import { type NamedServer, personaliseHint } from "./suggest-command.ts";

type Output = (text: string) => void;

// Each command loads only what it needs: start-up time and memory are part of what a proxy costs (issue 4).
const COMMANDS: Record<
  Exclude<CliArgs["command"], "help">,
  (args: CliArgs, out: Output, err: Output) => Promise<number>
> = {
  auth: async (args, out, err) => (await import("./commands/auth.ts")).authCommand(args, out, err),
  status: async (args, out, err) => (await import("./commands/status.ts")).statusCommand(args, out, err),
  refresh: async (args, out) => (await import("./commands/refresh.ts")).refreshCommand(args, out),
  clear: async (args, out) => (await import("./commands/clear.ts")).clearCommand(args, out),
  list: async (args, out, err) => (await import("./commands/list.ts")).listCommand(args, out, err),
  serve: async (args, out) => (await import("./commands/serve.ts")).serveCommand(args, out),
  stdio: async (args) => (await import("./commands/stdio.ts")).stdioCommand(args),
  clients: async (args, out) => (await import("./commands/clients.ts")).clientsCommand(args, out),
  store: async (args, out, err) => (await import("./commands/store.ts")).storeCommand(args, out, err),
};

/**
 * Runs the CLI and returns the exit code. Results go to `out` (stdout); errors are one line on `err` (stderr):
 * what is wrong and what to do next.
 */
export async function runCli(
  argv: string[],
  io: { out?: Output; err?: Output; version?: string } = {},
): Promise<number> {
  const out = io.out ?? ((text) => process.stdout.write(`${text}\n`));
  const err = io.err ?? ((text) => process.stderr.write(`${text}\n`));
  let parsed: CliArgs | undefined;
  // Until the arguments are parsed, suggestions carry the options as typed (a usage error's "Did you mean …").
  let servers: readonly NamedServer[] = [];
  const previous = setSuggestionRenderer((hint) => personaliseHint(hint, { argv }, servers));
  try {
    const args = parseCliArgs(argv);
    for (const warning of args.warnings) err(`mcp-u2m-proxy: warning: ${warning}`);
    if (args.version) {
      out(io.version ?? "unknown");
      return EXIT.ok;
    }
    if (args.help) {
      out(helpFor(args.helpTopic));
      return EXIT.ok;
    }
    // The keychain's key (created there on first use, under a lock): before any command opens the store.
    if (args.keychainService) {
      args.runtime.storeKey = await keychainStoreKey(args.keychainService, args.runtime.authDir);
    }
    parsed = args;
    servers = namedServers(args);
    try {
      return await COMMANDS[args.command as Exclude<CliArgs["command"], "help">](args, out, err);
    } finally {
      await closeStores();
    }
  } catch (error) {
    if (isProxyError(error)) {
      // Suggested commands repeat the user's own options (--auth-dir, --config, …) so they work as pasted; the
      // hint already does (the renderer), the message may name a command too.
      err(`mcp-u2m-proxy: ${personaliseHint(error.toLine(), { argv }, servers)}`);
      return exitCodeFor(error.code);
    }
    const local = parsed ? listenFailure(error, parsed) : undefined;
    if (local) {
      err(`mcp-u2m-proxy: ${local.toLine()}`);
      return exitCodeFor(local.code);
    }
    err(`mcp-u2m-proxy: unexpected error: ${describeError(error)}`);
    if (readEnvironment().printStack) err(String((error as Error).stack));
    return EXIT.internal;
  } finally {
    setSuggestionRenderer(previous);
  }
}

/**
 * Ends the shared stores' (Redis, Postgres) connections once a command is done, whichever (serve's graceful stop
 * has closed them already): the server sees a clean disconnect rather than a dropped socket, and nothing keeps the
 * process alive. Bounded (a store gives up on a server that no longer answers), and never the command's result.
 */
async function closeStores(): Promise<void> {
  const { closeSharedStores } = await import("../app/context.ts");
  await closeSharedStores().catch(() => {});
}

/**
 * A socket this process could not listen on is the user's --host or --port (a name that does not resolve, an
 * address this machine does not have, a port below 1024 without privileges): a usage error, not an internal one.
 */
function listenFailure(error: unknown, args: CliArgs): ProxyError | undefined {
  const { code, syscall, hostname } = (error ?? {}) as NodeJS.ErrnoException & { hostname?: string };
  const host = args.command === "serve" ? args.serve.host : args.runtime.callbackHost;
  const where = `${host.includes(":") ? `[${host}]` : host}:${args.runtime.port}`;
  if (syscall === "getaddrinfo" && hostname === host) {
    return new ProxyError("USAGE", `Cannot listen on ${where}: the host name ${host} does not resolve.`, {
      hint: "Give --host an address of this machine, e.g. 127.0.0.1 (or 0.0.0.0 with --api-key).",
    });
  }
  if (syscall !== "listen") return undefined;
  const reason =
    code === "EADDRNOTAVAIL"
      ? `${host} is not an address of this machine`
      : code === "EACCES"
        ? `port ${args.runtime.port} needs privileges`
        : code === "EADDRINUSE"
          ? `port ${args.runtime.port} is in use`
          : `${code ?? "error"}`;
  return new ProxyError("USAGE", `Cannot listen on ${where}: ${reason}.`, {
    hint:
      code === "EADDRNOTAVAIL"
        ? "Give --host an address of this machine, e.g. 127.0.0.1 (or 0.0.0.0 with --api-key)."
        : "Pick another --port (1024 or above), e.g. --port 8000.",
    cause: error,
  });
}

/** The configured servers, so suggestions say `jira` rather than its URL. */
function namedServers(args: CliArgs): NamedServer[] {
  try {
    return configFor(args)?.servers.map((server) => ({ name: server.name, url: server.upstream.url })) ?? [];
  } catch {
    return [];
  }
}

export { ProxyError };
