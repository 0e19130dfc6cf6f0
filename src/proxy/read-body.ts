import type { IncomingMessage } from "node:http";
import { DEFAULTS } from "../config/defaults.ts";

/** Default limit for buffered request bodies: MCP messages are small; 4 MB leaves room for large tool arguments. */
export const DEFAULT_MAX_BODY_BYTES = DEFAULTS.maxBodyBytes;

export type BodyResult = { ok: true; body: Buffer | undefined } | { ok: false; reason: "too-large" | "aborted" };

/** True when the request announces a body (RFC 9112 §6.3: Content-Length or Transfer-Encoding). */
export function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  if (length !== undefined) return length !== "0";
  return req.headers["transfer-encoding"] !== undefined;
}

/**
 * Buffers a request body up to `limit` bytes, so it can be replayed after a refresh or step-up.
 * A declared Content-Length above the limit is refused before reading; a chunked body that grows past it stops
 * there. On refusal the rest of the body is left unread: the caller answers 413 with `Connection: close`.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  if (!hasRequestBody(req)) return Promise.resolve({ ok: true, body: undefined });
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve({ ok: false, reason: "too-large" });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: BodyResult) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onAbort);
      req.off("close", onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        finish({ ok: false, reason: "too-large" });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      finish({ ok: true, body: size === 0 ? undefined : body });
    };
    const onAbort = () => finish({ ok: false, reason: "aborted" });
    const onClose = () => {
      if (!req.complete) onAbort();
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onAbort);
    req.on("close", onClose);
  });
}
