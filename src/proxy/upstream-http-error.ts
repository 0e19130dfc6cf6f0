/**
 * An upstream MCP request that failed with an HTTP status, thrown by the proxy's own transports. It carries what the
 * SDK's `SdkHttpError` carries (`status`, `statusText`, `data.text`), so that the code which classifies failures
 * (session gone, legacy transport, a JSON-RPC error in the body) reads both alike; it is its own class so that the
 * message path does not load the SDK just to report a status (importing the SDK's client package takes a Node
 * process from 41 to 67 MiB resident; the auth core loads it only for sign-in, refresh and discovery).
 */
export class UpstreamHttpError extends Error {
  constructor(
    /** The SDK's code for the same failure (`CLIENT_HTTP_NOT_IMPLEMENTED`, …), kept for callers that log it. */
    readonly code: string,
    message: string,
    readonly data: { status: number; statusText?: string | undefined; text?: string | null | undefined },
  ) {
    super(message);
    this.name = "UpstreamHttpError";
  }

  get status(): number {
    return this.data.status;
  }

  get statusText(): string | undefined {
    return this.data.statusText;
  }
}

/** An HTTP failure from an upstream transport: the proxy's ({@link UpstreamHttpError}) or the SDK's `SdkHttpError`. */
export type HttpStatusError = Error & {
  readonly status: number;
  readonly statusText?: string | undefined;
  readonly data: { text?: unknown };
};

/** Whether `error` is an HTTP failure of an upstream request, from the proxy's transports or the SDK's. */
export function isHttpStatusError(error: unknown): error is HttpStatusError {
  if (error instanceof UpstreamHttpError) return true;
  // The SDK's class, recognised without loading the SDK (its errors set this name; the SSE transport throws them).
  return (
    error instanceof Error &&
    error.name === "SdkHttpError" &&
    typeof (error as { status?: unknown }).status === "number" &&
    typeof (error as { data?: unknown }).data === "object"
  );
}

/** The SDK's codes for the failures the proxy's transports report. */
export const HTTP_ERROR_CODES = {
  notImplemented: "CLIENT_HTTP_NOT_IMPLEMENTED",
  failedToOpenStream: "CLIENT_HTTP_FAILED_TO_OPEN_STREAM",
  failedToTerminateSession: "CLIENT_HTTP_FAILED_TO_TERMINATE_SESSION",
} as const;
