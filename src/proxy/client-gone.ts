/**
 * Fires when the downstream client goes away, cancelling the upstream request. A stand-in for AbortController on
 * the hot path (one per request): undici accepts any emitter with an `abort` event, and an AbortSignal (an
 * EventTarget) costs several times more to create and to listen on.
 */
export class ClientGone {
  aborted = false;
  reason: Error | undefined;
  #listeners: (() => void)[] = [];

  on(_event: "abort", listener: () => void): this {
    this.#listeners.push(listener);
    return this;
  }

  once(event: "abort", listener: () => void): this {
    return this.on(event, listener);
  }

  removeListener(_event: "abort", listener: () => void): this {
    const index = this.#listeners.indexOf(listener);
    if (index !== -1) this.#listeners.splice(index, 1);
    return this;
  }

  off(event: "abort", listener: () => void): this {
    return this.removeListener(event, listener);
  }

  /** Marks the client gone and tells every listener once. */
  fire(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = new Error("The client closed the connection.");
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener();
  }
}
