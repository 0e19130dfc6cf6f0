/**
 * Recognises a failed request (nothing answered: refused, reset, DNS, TLS, timeout) across the two HTTP clients the
 * proxy uses: undici's `request()` (the HTTP face's relay) rejects with an error whose `code` is the errno or an
 * `UND_ERR_*` code; `fetch()` (the auth core, the SDK transports) rejects with `TypeError("fetch failed")` whose
 * `cause` carries that code. Both read the same here, so the same outage is described the same on every face.
 */

/**
 * A failed fetch that remembers which URL it was for, so the message can name the party that did not answer.
 * A TypeError like the one it wraps: the SDK's OAuth discovery tells network failures apart by `instanceof TypeError`.
 */
export class FetchFailure extends TypeError {
  override readonly name = "FetchFailure";
  /** The URL of the request that failed. */
  readonly url: string;

  constructor(url: string, cause: unknown) {
    super(`fetch to ${url} failed`, { cause });
    this.url = url;
  }
}

/**
 * A request that got no answer within its time limit. Not a TypeError on purpose: the SDK's discovery reads a
 * TypeError as a CORS failure and moves on to the next metadata URL, which would turn a stalled server into a
 * misleading "no metadata" error.
 */
export class FetchTimeout extends Error {
  override readonly name = "TimeoutError";
  readonly url: string;

  constructor(url: string, timeoutMs: number, cause?: unknown) {
    super(`no answer from ${url} within ${Math.round(timeoutMs / 1000)} s`, { cause });
    this.url = url;
  }
}

const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/** The first string `code` on the error or its causes (errno like ECONNREFUSED, or undici's UND_ERR_*). */
export function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^(E[A-Z]|UND_ERR_|ERR_TLS|CERT_|UNABLE_|DEPTH_|SELF_SIGNED)/.test(code))
      return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether the request failed for want of an answer in time (connect or response-headers timeout, timeout signal). */
export function isTimeoutFailure(error: unknown): boolean {
  const code = networkErrorCode(error);
  if (code !== undefined && (TIMEOUT_CODES.has(code) || code === "ETIMEDOUT")) return true;
  // AbortSignal.timeout(); a plain AbortError is a cancellation, not a timeout.
  return (error as { name?: unknown } | undefined)?.name === "TimeoutError";
}

/** Whether `error` is a request that got no answer at all (as opposed to an HTTP status or a bad body). */
export function isNetworkFailure(error: unknown): boolean {
  if (error instanceof FetchFailure) return true;
  if (error instanceof TypeError && error.message === "fetch failed") return true;
  return networkErrorCode(error) !== undefined || isTimeoutFailure(error);
}

/** Why nothing answered, in words ("connection refused"), for "… could not be reached: <cause>." */
export function networkCause(error: unknown): string {
  const code = networkErrorCode(error);
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host name not found";
    case "ECONNRESET":
    case "EPIPE":
    case "UND_ERR_SOCKET":
    case "UND_ERR_CLOSED":
      return "the connection was closed";
    case "UND_ERR_ABORTED":
      return "the request was aborted";
    case "ETIMEDOUT":
    case "UND_ERR_CONNECT_TIMEOUT":
      return "the connection timed out";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "no route to the host";
    case undefined:
      break;
    default:
      if (/CERT|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/.test(code))
        return `its TLS certificate was refused (${code})`;
      return code;
  }
  return innermostMessage(error);
}

function innermostMessage(error: unknown): string {
  let current: unknown = error;
  let message = error instanceof Error ? error.message : String(error);
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current.message && current.message !== "fetch failed" && !(current instanceof FetchFailure)) {
      message = current.message;
    }
    current = current.cause;
  }
  return message;
}
