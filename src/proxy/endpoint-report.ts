import { mcpServer, partyName } from "../lib/messages.ts";
import type { EndpointVerdict } from "./endpoint-probe.ts";

/** Paths MCP servers commonly serve, tried (and suggested only if they answer as MCP) when nothing better is known. */
const COMMON_PATHS = ["/mcp", "/sse"];
/** A guess must answer fast: it only decorates a message the user already gets. */
export const GUESS_TIMEOUT_MS = 3_000;

/**
 * What is wrong with the endpoint, in one sentence naming the URL; undefined when it answered as MCP or asked for
 * a sign-in (both mean the URL is right).
 */
export function endpointProblem(url: string, verdict: EndpointVerdict): string | undefined {
  switch (verdict.kind) {
    case "mcp":
    case "auth-required":
      return undefined;
    case "not-mcp":
      return `${url} is not an MCP endpoint (${verdict.found})`;
    // Worded as the message catalogue words the same outage on every face.
    case "server-error":
      return `${partyName(mcpServer(url))} answered ${verdict.found}`;
    case "unreachable":
      return `${partyName(mcpServer(url))} could not be reached: ${verdict.reason}`;
  }
}

/**
 * The MCP URL the user probably meant, for a URL that is not an MCP endpoint: the protected resource metadata's
 * `resource` when it names another path on the same origin (the server says where its MCP endpoint is), else the
 * first common path that answers as MCP right now. Undefined when neither.
 */
export async function suggestEndpoint(
  url: string,
  options: { resource?: string | undefined; probe: (candidate: string) => Promise<EndpointVerdict> },
): Promise<string | undefined> {
  const wrong = new URL(url);
  const named = options.resource ? parseUrl(options.resource) : undefined;
  if (named && named.origin === wrong.origin && named.pathname !== "/" && !samePath(named, wrong)) return named.href;
  const candidates = COMMON_PATHS.map((path) => new URL(path, wrong.origin)).filter((guess) => !samePath(guess, wrong));
  const verdicts = await Promise.all(candidates.map((guess) => options.probe(guess.href)));
  return candidates.find((_, index) => verdicts[index]?.kind === "mcp")?.href;
}

export interface EndpointReport {
  /** One sentence: the problem, and the URL probably meant when there is one. */
  message: string;
  suggestion?: string | undefined;
}

/**
 * The problem a verdict shows, with the URL the user probably meant (only for "not an MCP endpoint": a server that
 * is down or failing is at the right URL as far as anyone can tell). Undefined when the endpoint is fine.
 */
export async function reportEndpoint(
  url: string,
  verdict: EndpointVerdict,
  options: { resource?: string | undefined; probe: (candidate: string) => Promise<EndpointVerdict> },
): Promise<EndpointReport | undefined> {
  const problem = endpointProblem(url, verdict);
  if (problem === undefined) return undefined;
  const suggestion =
    verdict.kind === "not-mcp" ? await suggestEndpoint(url, options).catch(() => undefined) : undefined;
  return { message: withSuggestion(problem, suggestion), ...(suggestion ? { suggestion } : {}) };
}

/** "X is not an MCP endpoint (HTTP 404) — did you mean Y?" or the problem alone. */
export function withSuggestion(problem: string, suggestion: string | undefined): string {
  return suggestion ? `${problem} — did you mean ${suggestion}?` : `${problem}.`;
}

function samePath(a: URL, b: URL): boolean {
  const trim = (path: string) => (path.length > 1 ? path.replace(/\/+$/, "") : path);
  return a.origin === b.origin && trim(a.pathname) === trim(b.pathname) && a.search === b.search;
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}
