import { isCredentialHeader } from "../lib/known-secrets.ts";
import type { CliArgs } from "./args.ts";
import { COMMAND_FLAGS } from "./help.ts";

/**
 * The commands a message suggests, written for the user's own invocation: the same server (its config name when
 * it has one) and the options that select the same store and sign-in (--config, --auth-dir, --port, the client
 * identity, …), so that pasting the suggestion does what it says. Secrets are never echoed.
 */

/** Options that select the same store, client and sign-in, carried into a suggested command. */
const CARRIED = new Set([
  "--config",
  "--auth-dir",
  "--port",
  "-p",
  "--callback-host",
  "--store-key-file",
  "--keychain",
  "--client-id",
  "--client-metadata-url",
  "--scope",
  "--authorize-param",
  "--no-resource",
  "--use-id-token",
  "--allow-insecure-http",
  "--allow-pkce-unverified",
  "--accept-issuer",
  // A host's stdio process must hide the same tools as the proxy whose page printed its command.
  "--ignore-tool",
]);
const BOOLEAN = new Set([
  "--keychain",
  "--no-resource",
  "--use-id-token",
  "--allow-insecure-http",
  "--allow-pkce-unverified",
]);
/** Given, but shown as a placeholder: the suggestion must not print the secret. */
const SECRET = new Set(["--client-secret"]);
/** Upstream headers (a server may need them to answer at all): carried, a credential header's value as a placeholder. */
const HEADER = new Set(["--header", "-H"]);

/**
 * The carried options as the user wrote them, in their order; with `command`, only those it takes (a suggested
 * `status` gets no --scope).
 */
export function carriedOptions(
  argv: readonly string[],
  command?: string,
  except: ReadonlySet<string> = new Set(),
): string[] {
  const takes = command === undefined ? undefined : COMMAND_FLAGS[command]?.map((entry) => entry.split(/[ ,]/)[0]);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    const eq = word.indexOf("=");
    const flag = word.startsWith("--") && eq !== -1 ? word.slice(0, eq) : word;
    const inline = word.startsWith("--") && eq !== -1 ? word.slice(eq + 1) : undefined;
    const canonical = flag === "-p" ? "--port" : flag === "-H" ? "--header" : flag;
    if ((takes && !takes.includes(canonical)) || except.has(canonical)) {
      if (inline === undefined && !BOOLEAN.has(flag) && (CARRIED.has(flag) || SECRET.has(flag) || HEADER.has(flag)))
        i++;
      continue;
    }
    if (HEADER.has(flag)) {
      const header = inline ?? argv[++i];
      if (header !== undefined) out.push(canonical, shownHeader(header));
      continue;
    }
    if (SECRET.has(flag)) {
      out.push(flag, "<secret>");
      if (inline === undefined) i++;
      continue;
    }
    if (!CARRIED.has(flag)) continue;
    if (BOOLEAN.has(flag)) {
      out.push(flag);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value !== undefined) out.push(canonical, value);
  }
  return out;
}

/** `Name: value` as a suggestion shows it: a credential's value replaced by the placeholder. */
function shownHeader(header: string): string {
  const colon = header.indexOf(":");
  const name = colon === -1 ? header.trim() : header.slice(0, colon).trim();
  return colon !== -1 && isCredentialHeader(name) ? `${name}: <secret>` : header;
}

/** `mcp-u2m-proxy <command> <server> <carried options> <extra>`, quoted for a shell. */
export function commandFor(
  args: Pick<CliArgs, "argv" | "url" | "serverName">,
  command: string,
  server: { name?: string | undefined; upstream?: { url: string } } = {},
  extra: readonly string[] = [],
): string {
  const target = server.name ?? args.serverName ?? server.upstream?.url ?? args.url;
  const words = [
    "mcp-u2m-proxy",
    command,
    ...(target ? [target] : []),
    ...carriedOptions(args.argv ?? [], command),
    ...extra,
  ];
  return words.map(shellWord).join(" ");
}

/** A suggested command: `mcp-u2m-proxy <command> <server>` and the options written after it already. */
const SUGGESTED =
  /mcp-u2m-proxy (auth|refresh|clear|status|serve|stdio) (https?:\/\/[^\s`"']+|[A-Za-z0-9][\w.-]*)((?: --?[a-z][\w-]*(?:=[^\s`"']*)?(?: (?!-)[^\s`"']+)?)*)/g;

/** A configured server, so a suggestion says `auth jira` rather than its URL. */
export interface NamedServer {
  name: string;
  url: string;
}

/**
 * Rewrites the commands a message suggests (`mcp-u2m-proxy auth https://…`) into the user's own invocation: their
 * config name for the server and the options of theirs the command takes (--auth-dir, --config, …), after the
 * server and before the options the message wrote. Idempotent: options already there are not added again, so a hint
 * copied from one error into another reads the same.
 */
export function personaliseHint(
  text: string,
  args: Pick<CliArgs, "argv">,
  servers: readonly NamedServer[] = [],
): string {
  return text.replace(SUGGESTED, (_match, command: string, target: string, written: string) => {
    const name = servers.find((server) => sameUrl(target, server.url))?.name;
    const present = new Set([...written.matchAll(/ (--?[a-z][\w-]*)/g)].map((match) => match[1]));
    const carried = carriedOptions(args.argv ?? [], command);
    const missing: string[] = [];
    for (let i = 0; i < carried.length; i++) {
      const flag = carried[i] as string;
      const takesValue = carried[i + 1] !== undefined && !carried[i + 1]?.startsWith("--");
      const words = takesValue ? [flag, carried[++i] as string] : [flag];
      // Repeatable options (--authorize-param) are added only when the message wrote none of them.
      if (!present.has(flag)) missing.push(...words);
    }
    return ["mcp-u2m-proxy", command, name ?? target, ...missing].map(shellWord).join(" ") + written;
  });
}

function sameUrl(a: string, b: string): boolean {
  const strip = (url: string) => url.replace(/\/+$/, "").toLowerCase();
  return strip(a) === strip(b);
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) || word === "<secret>" ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/** Carried by launchCommand itself (from the values in use, not as typed). */
const LAUNCH_OWN = new Set(["--config", "--auth-dir", "--port"]);

/**
 * The options a client snippet's `stdio` command needs besides the token directory, config and port: the carried
 * options of this invocation that `stdio` takes, secrets as placeholders.
 */
export function launchOptions(argv: readonly string[]): string[] {
  return carriedOptions(argv, "stdio", LAUNCH_OWN);
}
