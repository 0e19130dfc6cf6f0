import type { RequestListener, ServerResponse } from "node:http";
import { ProxyError } from "../lib/errors.ts";
import { writeErrorResponse } from "../proxy/relay-errors.ts";

/**
 * The requests in flight on the HTTP face, for a graceful stop: once draining, a request that still arrives (on a
 * kept-alive connection) is refused with 503 and `Connection: close`, and {@link drain} waits for the others to
 * end, up to a deadline. Long-lived streams are requests in flight too: the shutdown ends them first.
 */
export class InboundDrain {
  private readonly open = new Set<ServerResponse>();
  private draining = false;
  private onIdle: (() => void) | undefined;

  /** Requests whose responses have not closed yet. */
  get inFlight(): number {
    return this.open.size;
  }

  /** `listener`, counting its requests, and refusing new ones once draining. */
  wrap(listener: RequestListener): RequestListener {
    return (req, res) => {
      if (this.draining) {
        refuseWhileStopping(res);
        req.resume();
        return;
      }
      this.open.add(res);
      res.once("close", () => {
        this.open.delete(res);
        if (this.open.size === 0) this.onIdle?.();
      });
      listener(req, res);
    };
  }

  /**
   * Refuses new requests from now on and resolves once every request in flight has ended, or after `graceMs`
   * with the number still open (then cut by the caller).
   */
  drain(graceMs: number): Promise<number> {
    this.draining = true;
    // A response still being written closes its connection afterwards (no next request on it).
    for (const res of this.open) if (!res.headersSent) res.shouldKeepAlive = false;
    if (this.open.size === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.onIdle = undefined;
        resolve(this.open.size);
      }, graceMs);
      this.onIdle = () => {
        clearTimeout(timer);
        this.onIdle = undefined;
        resolve(0);
      };
    });
  }
}

function refuseWhileStopping(res: ServerResponse): void {
  writeErrorResponse(
    res,
    new ProxyError("PROXY_BUSY", "The proxy is shutting down and takes no new requests.", {
      hint: "Try again in a moment (a restarted proxy, or another replica, answers).",
    }),
    { statusOnly: true, headers: ["connection", "close"] },
  );
}
