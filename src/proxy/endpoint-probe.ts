import { createParser } from "eventsource-parser";
import { networkCause } from "../lib/network-failure.ts";

/**
 * Asks a URL whether it is an MCP endpoint, the way a client's first request would (with the token when one is
 * held), so a wrong URL or a server that is down is reported at `auth` and at `serve` start instead of at the first
 * tool call. Never calls a tool.
 *
 * Order: POST `initialize` (Streamable HTTP, 2025 revisions; a session it creates is ended with DELETE at once).
 * A 2026-07-28 server refuses that with a JSON-RPC error naming its versions: then POST `server/discover`.
 * An answer that is not JSON-RPC (404, 405, an HTML page, other JSON) is asked once more as legacy HTTP+SSE: a GET
 * that must open an event stream with an `endpoint` event (closed as soon as that event is read).
 *
 * @see MCP 2025-11-25 basic/transports §Backwards Compatibility; 2026-07-28 server/discover
 */

/** Which wire the endpoint answered on: session wire with `initialize`, stateless 2026-07-28, or legacy SSE. */
export type McpEra = "2025" | "2026-07-28" | "legacy-sse";

export type EndpointVerdict =
  /** It answered as MCP: a JSON-RPC result or error, or a legacy endpoint event. `era` when the answer shows it. */
  | { kind: "mcp"; status: number; era?: McpEra | undefined }
  /** 401/403: something protected answers there (not signed in, or the token is refused). */
  | { kind: "auth-required"; status: number; wwwAuthenticate: string | null }
  /** It answered, but not as MCP. `found` describes what, e.g. "HTTP 404" or "an HTML page, HTTP 200". */
  | { kind: "not-mcp"; status: number; found: string }
  /** A 5xx without a JSON-RPC body: the server (or a gateway in front of it) is failing. */
  | { kind: "server-error"; status: number; found: string }
  /** No HTTP answer: connection refused, host not found, timeout. */
  | { kind: "unreachable"; reason: string };

export interface ProbeOptions {
  /** Access token for `Authorization: Bearer` (omitted when undefined). */
  token?: string | undefined;
  /** Static headers of the upstream (--header), sent as the relay sends them. */
  headers?: Record<string, string> | undefined;
  /** Per request (default 10 s). */
  timeoutMs?: number | undefined;
  /** Product version in clientInfo. */
  version?: string | undefined;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Enough for any initialize result or endpoint event; the rest of a body is never read. */
const MAX_BODY_CHARS = 64 * 1024;
const PROBE_ID = "mcp-u2m-proxy-probe";
const MODERN_VERSION = "2026-07-28";
/** The version we ask for in initialize; servers answer with the one they speak. */
const SESSION_VERSION = "2025-11-25";
/** A 2026-07-28 server's refusal of a 2025 request (unsupported protocol version). */
const UNSUPPORTED_VERSION = -32022;

/** One HTTP answer, read as far as the probe needs. */
interface Answer {
  /** The URL asked. */
  url: string;
  status: number;
  headers: Headers;
  /** The JSON-RPC response in the body, if it had one. */
  rpc?: { result?: Record<string, unknown>; error?: { code?: unknown; data?: unknown } } | undefined;
  /** The legacy transport's `endpoint` event was seen. */
  endpointEvent?: boolean;
  /** What the body was, for people: "an HTML page", "JSON that is not JSON-RPC", "an empty body", … */
  body: string;
}

export async function probeEndpoint(url: string, options: ProbeOptions = {}): Promise<EndpointVerdict> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    const init = await post(url, options, initializeRequest(options.version));
    if (init.status === 401 || init.status === 403) return authRequired(init);
    if (init.rpc) {
      const session = init.headers.get("mcp-session-id");
      if (session) await endSession(url, options, session, protocolVersionOf(init));
      if (init.rpc.result) return { kind: "mcp", status: init.status, era: "2025" };
      if (!supportsModern(init.rpc.error)) return { kind: "mcp", status: init.status };
      const discover = await post(url, options, discoverRequest(options.version), MODERN_VERSION);
      if (discover.status === 401 || discover.status === 403) return authRequired(discover);
      return discover.rpc?.result
        ? { kind: "mcp", status: discover.status, era: MODERN_VERSION }
        : { kind: "mcp", status: init.status };
    }
    if (init.status >= 500) return { kind: "server-error", status: init.status, found: describe(init) };
    // A GET that fails or never sends the endpoint event only means "not legacy SSE either".
    const legacy = await send(url, options, { method: "GET", accept: "text/event-stream", timeoutMs }).catch(
      () => undefined,
    );
    if (!legacy) return { kind: "not-mcp", status: init.status, found: describe(init) };
    if (legacy.endpointEvent) return { kind: "mcp", status: legacy.status, era: "legacy-sse" };
    if (legacy.status === 401 || legacy.status === 403) return authRequired(legacy);
    return { kind: "not-mcp", status: init.status, found: describe(init) };
  } catch (error) {
    return { kind: "unreachable", reason: describeNetworkFailure(error, timeoutMs) };
  }
}

/** "HTTP 404", "an HTML page, HTTP 200", "a redirect to https://…/login, HTTP 302". */
function describe(answer: Answer): string {
  if (answer.status >= 300 && answer.status < 400) {
    const location = withoutQuery(answer.headers.get("location"), answer.url);
    return location ? `a redirect to ${location}, HTTP ${answer.status}` : `a redirect, HTTP ${answer.status}`;
  }
  // An error status says enough; the body of a 404 page is noise.
  if (answer.status >= 400) return `HTTP ${answer.status}`;
  return `${answer.body}, HTTP ${answer.status}`;
}

/** Where a redirect points, without its query or fragment (they may carry state meant for a browser). */
function withoutQuery(location: string | null, base: string): string | undefined {
  if (!location) return undefined;
  try {
    const target = new URL(location, base);
    return `${target.origin}${target.pathname}`;
  } catch {
    return undefined;
  }
}

function authRequired(answer: Answer): EndpointVerdict {
  return { kind: "auth-required", status: answer.status, wwwAuthenticate: answer.headers.get("www-authenticate") };
}

function supportsModern(error: { code?: unknown; data?: unknown } | undefined): boolean {
  if (!error) return false;
  const supported = (error.data as { supported?: unknown } | undefined)?.supported;
  if (Array.isArray(supported)) return supported.some((version) => typeof version === "string" && version >= "2026");
  return error.code === UNSUPPORTED_VERSION;
}

function protocolVersionOf(answer: Answer): string {
  const version = answer.rpc?.result?.protocolVersion;
  return typeof version === "string" ? version : SESSION_VERSION;
}

function initializeRequest(version: string | undefined): unknown {
  return {
    jsonrpc: "2.0",
    id: PROBE_ID,
    method: "initialize",
    params: {
      protocolVersion: SESSION_VERSION,
      capabilities: {},
      clientInfo: { name: "mcp-u2m-proxy", version: version ?? "0" },
    },
  };
}

function discoverRequest(version: string | undefined): unknown {
  return {
    jsonrpc: "2.0",
    id: PROBE_ID,
    method: "server/discover",
    params: {
      _meta: {
        "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { name: "mcp-u2m-proxy", version: version ?? "0" },
      },
    },
  };
}

function post(url: string, options: ProbeOptions, message: unknown, protocolVersion?: string): Promise<Answer> {
  const method = (message as { method: string }).method;
  return send(url, options, {
    method: "POST",
    accept: "application/json, text/event-stream",
    body: JSON.stringify(message),
    extra: protocolVersion ? { "mcp-protocol-version": protocolVersion, "mcp-method": method } : {},
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
}

/** DELETE of the probe's session; its answer does not change the verdict (405 is allowed by the spec). */
async function endSession(url: string, options: ProbeOptions, session: string, version: string): Promise<void> {
  await send(url, options, {
    method: "DELETE",
    accept: "application/json, text/event-stream",
    extra: { "mcp-session-id": session, "mcp-protocol-version": version },
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  }).catch(() => {});
}

async function send(
  url: string,
  options: ProbeOptions,
  request: { method: string; accept: string; body?: string; extra?: Record<string, string>; timeoutMs: number },
): Promise<Answer> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new ProbeTimeout()), request.timeoutMs);
  try {
    const response = await fetch(url, {
      method: request.method,
      headers: {
        ...options.headers,
        accept: request.accept,
        ...(request.body === undefined ? {} : { "content-type": "application/json" }),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...request.extra,
      },
      ...(request.body === undefined ? {} : { body: request.body }),
      redirect: "manual",
      signal: abort.signal,
    });
    return await readAnswer(url, response);
  } finally {
    clearTimeout(timer);
    abort.abort(); // closes an event stream (or an unread body) at once
  }
}

async function readAnswer(url: string, response: Response): Promise<Answer> {
  const type = (response.headers.get("content-type") ?? "").toLowerCase();
  const base = { url, status: response.status, headers: response.headers };
  if (type.startsWith("text/event-stream")) {
    const seen = await readEvents(response);
    return { ...base, ...seen, body: "an event stream" };
  }
  const text = await readText(response);
  const rpc = parseRpc(text);
  if (rpc) return { ...base, rpc, body: "a JSON-RPC response" };
  return { ...base, body: describeBody(type, text) };
}

function describeBody(type: string, text: string): string {
  if (text.trim() === "") return "an empty body";
  if (type.includes("html") || /^\s*</.test(text)) return "an HTML page";
  if (type.includes("json") || isJson(text)) return "JSON that is not a JSON-RPC response";
  return type ? `a ${type.split(";")[0]} body` : "a body without a content type";
}

/** Reads events until a JSON-RPC response or an `endpoint` event (or the size limit, or the stream's end). */
async function readEvents(response: Response): Promise<Pick<Answer, "rpc" | "endpointEvent">> {
  const seen: Pick<Answer, "rpc" | "endpointEvent"> = {};
  const parser = createParser({
    onEvent: (event) => {
      if (event.event === "endpoint" && event.data.trim() !== "") seen.endpointEvent = true;
      else if (event.event === undefined || event.event === "message") seen.rpc ??= parseRpc(event.data);
    },
  });
  let total = 0;
  for await (const chunk of textChunks(response)) {
    parser.feed(chunk);
    total += chunk.length;
    if (seen.rpc || seen.endpointEvent || total > MAX_BODY_CHARS) break;
  }
  return seen;
}

async function readText(response: Response): Promise<string> {
  let text = "";
  for await (const chunk of textChunks(response)) {
    text += chunk;
    if (text.length > MAX_BODY_CHARS) break;
  }
  return text;
}

async function* textChunks(response: Response): AsyncGenerator<string> {
  if (!response.body) return;
  const decoder = new TextDecoder();
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    yield decoder.decode(bytes, { stream: true });
  }
}

function parseRpc(text: string): Answer["rpc"] {
  try {
    const value = JSON.parse(text) as { jsonrpc?: unknown; result?: unknown; error?: unknown };
    if (value?.jsonrpc !== "2.0") return undefined;
    if (isObject(value.result)) return { result: value.result };
    if (isObject(value.error)) return { error: value.error as { code?: unknown; data?: unknown } };
    return undefined;
  } catch {
    return undefined;
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

class ProbeTimeout extends Error {}

/** Why no HTTP answer came, in the catalogue's words ("connection refused"), or "no answer within 10 s". */
function describeNetworkFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof ProbeTimeout || (error as { cause?: unknown })?.cause instanceof ProbeTimeout) {
    return `no answer within ${Math.round(timeoutMs / 100) / 10} s`;
  }
  return networkCause(error);
}
