// How a refused `initialize` reveals a legacy HTTP+SSE upstream, apart: a probe's heuristics, not the relay loop.
// The upstream connector (stdio face) uses the same statuses and codes, so both faces decide alike.

/** Statuses of an `initialize` POST that may mean "a legacy HTTP+SSE endpoint" (T25 §Backwards Compatibility). */
export const LEGACY_STATUSES = new Set([400, 404, 405]);
/** JSON-RPC error codes a Streamable HTTP (2026-07-28) server puts in such a refusal: then it is not legacy. */
export const MODERN_ERROR_CODES = new Set([-32020, -32022, -32601, -32602, -32600]);

/** Whether a buffered POST body is an `initialize` request (parsed only when probing, on a 4xx). */
export function isInitializeBody(body: Buffer | undefined): boolean {
  if (!body || body.length > 1024 * 1024) return false;
  try {
    const message = JSON.parse(body.toString("utf8")) as { method?: unknown };
    return message?.method === "initialize";
  } catch {
    return false;
  }
}

/** Whether the body of a refused `initialize` POST leaves the legacy transport possible. */
export function isLegacyRefusal(text: string): boolean {
  if (!text.trim()) return true;
  try {
    const body = JSON.parse(text) as { jsonrpc?: unknown; error?: { code?: unknown } };
    return !(body.jsonrpc === "2.0" && MODERN_ERROR_CODES.has(body.error?.code as number));
  } catch {
    return true;
  }
}
