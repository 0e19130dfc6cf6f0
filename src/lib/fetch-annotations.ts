/**
 * Extra properties a request's `RequestInit` may carry through the proxy's fetch layers (each layer passes `init`
 * on with a spread, which keeps symbol-keyed properties; `fetch` itself ignores them). They save the layers work on
 * the message path: no second parse of a body the proxy serialised itself, no second stream around a body.
 */

/** The JSON-RPC method of the one message in the body ("" for a response), set by the transport that wrote it. */
export const MESSAGE_METHOD = Symbol("mcp-u2m-proxy.messageMethod");

/**
 * Called once when the body of a response to this request has ended (`cut` false) or broke or was cancelled
 * (`cut` true), by the fetch that honours it (dispatcher-fetch.ts, which then marks the response: see
 * `reportsBodySettled`). Each response of the request (a 401 before a retry too) reports itself.
 */
export const BODY_SETTLED = Symbol("mcp-u2m-proxy.bodySettled");

export type BodySettled = (response: Response, cut: boolean) => void;

export interface AnnotatedInit extends RequestInit {
  [MESSAGE_METHOD]?: string;
  [BODY_SETTLED]?: BodySettled;
}

const reporting = new WeakSet<Response>();

/** Marks `response` as one whose end will be reported to its request's BODY_SETTLED hook. */
export function willReportBodySettled(response: Response): void {
  reporting.add(response);
}

/** Whether the end of `response`'s body is reported to its request's BODY_SETTLED hook. */
export function reportsBodySettled(response: Response): boolean {
  return reporting.has(response);
}
