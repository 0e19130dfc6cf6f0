import { DEFAULTS } from "../config/defaults.ts";
import { describeError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import type { ServeHandle } from "./serve.ts";

/**
 * Resolves with the first SIGTERM or SIGINT (a platform stopping the container, or Ctrl+C). The listeners stay
 * until the process exits: the file store's lock library (proper-lockfile, through signal-exit) re-raises a signal
 * it finds no other listener for, which would kill the process in the middle of its graceful stop. A second signal
 * means "stop now": `onRepeat` (default: exit 1 at once).
 */
export function stopSignal(
  onRepeat: (signal: NodeJS.Signals) => void = (signal) => {
    process.stderr.write(`mcp-u2m-proxy: ${signal} again; stopping now.\n`);
    process.exit(1);
  },
): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return onRepeat(signal);
      stopping = true;
      resolve(signal);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

export interface GracefulStopOptions {
  logger?: Logger | undefined;
  /** What closes after the face: the OAuth cores (pending sign-ins), then the shared stores' connections. */
  closeRest: () => Promise<unknown>;
  graceMs?: number | undefined;
  capMs?: number | undefined;
  /** Called when the whole stop takes longer than the cap (default: exit the process with code 1). */
  onCap?: (() => void) | undefined;
}

/**
 * The graceful stop of `serve`: no new connections or requests, long-lived streams ended between two events (clients
 * reconnect elsewhere), requests in flight given `graceMs` to finish, then the upstream connections, sign-ins and
 * store closed. Bounded by `capMs` in all: platforms kill a process that ignores SIGTERM (Databricks Apps after
 * 15 s, Docker after 10 s by default), so a stop that hangs exits on its own, with code 1, before that.
 */
export async function stopGracefully(handle: ServeHandle, options: GracefulStopOptions): Promise<void> {
  const capMs = options.capMs ?? DEFAULTS.shutdownCapMs;
  const cap = setTimeout(
    options.onCap ??
      (() => {
        process.stderr.write(`mcp-u2m-proxy: the shutdown did not finish within ${capMs / 1000} s; exiting.\n`);
        process.exit(1);
      }),
    capMs,
  );
  cap.unref();
  try {
    const graceMs = Math.min(options.graceMs ?? DEFAULTS.shutdownGraceMs, capMs);
    const report = await handle.shutdown(graceMs);
    const cut = report.cut > 0 ? `, ${report.cut} request(s) still running were cut` : "";
    options.logger?.info(`Stopped: ${report.streams} open stream(s) ended${cut}.`);
    await options.closeRest();
  } catch (error) {
    options.logger?.warn(`The shutdown did not finish cleanly: ${describeError(error)}`);
    throw error;
  } finally {
    clearTimeout(cap);
  }
}
