import type { FetchLike } from "../auth/authorized-fetch.ts";
import { type AnnotatedInit, BODY_SETTLED, MESSAGE_METHOD, reportsBodySettled } from "../lib/fetch-annotations.ts";
import { toProxyError } from "../proxy/upstream-error.ts";

/** Records one MCP operation sent upstream (UpstreamMetrics.observeOperation); `errorType` undefined on success. */
export type ObserveOperation = (method: string | undefined, seconds: number, errorType?: string) => void;

/**
 * The bridges' upstream fetch, timed: every upstream request the bridges make (one per MCP message they send, in
 * either era) is one `mcp_client_operation_duration_seconds` sample, from the request until its response ended,
 * with the labels the pass-through gives a relayed request: the method, `error_type` the upstream's HTTP status
 * from 400 up, the proxy's error code when no answer came, or "cancelled" when the response was cut or dropped.
 * The pass-through can label only by the `Mcp-Method` header; here the body is the proxy's own serialised message,
 * so a 2025 upstream's requests (which carry no such header) are labelled by their method too.
 *
 * Long-lived streams are not operations (as on the pass-through): GET streams and `subscriptions/listen`.
 */
export function meteredFetch(fetch: FetchLike, observe: ObserveOperation, upstreamName: string): FetchLike {
  return async (input, init) => {
    const method = methodOf(init);
    if ((init?.method ?? "GET").toUpperCase() === "GET" || method === "subscriptions/listen") {
      return fetch(input, init);
    }
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    // A body that ended before this call had its response (a small one arrives whole): the last one is the answer's
    // (an earlier 401's body is cancelled before its retry is sent).
    let settledEarly: { response: Response; cut: boolean } | undefined;
    let onSettled: ((response: Response, cut: boolean) => void) | undefined;
    const hooked: AnnotatedInit = {
      ...init,
      [BODY_SETTLED]: (response, cut) => {
        if (onSettled) onSettled(response, cut);
        else settledEarly = { response, cut };
      },
    };
    let response: Response;
    try {
      response = await fetch(input, hooked);
    } catch (error) {
      observe(method, seconds(), init?.signal?.aborted ? "cancelled" : toProxyError(error, upstreamName).code);
      throw error;
    }
    const failed = response.status >= 400 ? String(response.status) : undefined;
    // Nothing to wait for (an accepted notification or response): its reader may just cancel the empty body.
    if (response.status === 202 || response.status === 204) {
      observe(method, seconds(), failed);
      return response;
    }
    let recorded = false;
    const settle = (cut: boolean) => {
      if (recorded) return;
      recorded = true;
      observe(method, seconds(), cut ? (failed ?? "cancelled") : failed);
    };
    if (reportsBodySettled(response)) {
      // The fetch tells when this body ends: no second stream around it. Earlier responses (a 401) are not ours.
      if (settledEarly?.response === response) settle(settledEarly.cut);
      else onSettled = (settledResponse, cut) => settledResponse === response && settle(cut);
      return response;
    }
    if (!response.body) {
      observe(method, seconds(), failed);
      return response;
    }
    return withBody(
      response,
      timedBody(response.body, {
        ended: () => settle(false),
        cut: () => settle(true),
      }),
    );
  };
}

/** The stream of `body`, telling when it was read to its end, or cut (read error, or cancelled by its reader). */
function timedBody(
  body: ReadableStream<Uint8Array>,
  on: { ended: () => void; cut: () => void },
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          on.ended();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        on.cut();
        controller.error(error);
      }
    },
    cancel(reason) {
      on.cut();
      return reader.cancel(reason);
    },
  });
}

/** `response` with its body replaced (status and headers kept; the bridges read nothing else of it). */
function withBody(response: Response, body: ReadableStream<Uint8Array>): Response {
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * The MCP method of a request: as its transport named it (MESSAGE_METHOD), else its `Mcp-Method` header (2026-07-28
 * requests carry one), else the method of the one message in its body; "" for a message without one (a response to the server), undefined when it cannot be told.
 */
function methodOf(init: AnnotatedInit | undefined): string | undefined {
  const known = init?.[MESSAGE_METHOD];
  if (known !== undefined) return known;
  const header = new Headers(init?.headers).get("mcp-method");
  if (header) return header;
  if (typeof init?.body !== "string") return undefined;
  try {
    const message = JSON.parse(init.body) as unknown;
    if (typeof message !== "object" || message === null || Array.isArray(message)) return undefined;
    const name = (message as { method?: unknown }).method;
    return typeof name === "string" ? name : "";
  } catch {
    return undefined;
  }
}
