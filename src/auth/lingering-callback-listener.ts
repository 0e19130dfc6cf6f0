import type { CallbackListener } from "./callback-listener.ts";

/** How long an idle listener stays bound: the result page finishes sending first. */
const LINGER_MS = 200;

/**
 * The loopback callback listener of one upstream's browser sign-ins (when the process has no HTTP face): bound
 * when a sign-in starts, kept while any waits, and closed a moment after the last one settled. Until then it stays
 * bound, so a sign-in starting right after (a step-up) reuses it instead of failing to bind the same fixed port.
 */
export class LingeringCallbackListener {
  readonly #start: () => Promise<CallbackListener>;
  #listener: CallbackListener | undefined;
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(start: () => Promise<CallbackListener>) {
    this.#start = start;
  }

  /** A sign-in is starting: a pending close is called off. */
  keep(): void {
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
  }

  /** Binds the listener unless it is bound already. */
  async open(): Promise<void> {
    this.keep();
    if (!this.#listener) this.#listener = await this.#start();
  }

  /** The port it is bound to, if it is. */
  get port(): number | undefined {
    return this.#listener?.port;
  }

  /** Whether it is bound and not about to close (tests of the listener's lifetime). */
  get bound(): boolean {
    return this.#listener !== undefined && this.#closeTimer === undefined;
  }

  /** No sign-in waits any more: closes it a moment later (unless a new one starts meanwhile). */
  closeSoon(): void {
    if (!this.#listener || this.#closeTimer) return;
    this.#closeTimer = setTimeout(() => {
      const listener = this.#listener;
      this.#listener = undefined;
      this.#closeTimer = undefined;
      void listener?.close();
    }, LINGER_MS);
    // No result waits for this: it only closes a listener nobody needs, so it must not hold the process open.
    this.#closeTimer.unref();
  }

  /** Closes it now (shutdown). */
  async close(): Promise<void> {
    this.keep();
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.close();
  }
}
