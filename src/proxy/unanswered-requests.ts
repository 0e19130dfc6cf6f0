// Which client requests still wait for their answer, apart from the message bridge: its graceful end waits for them.
import type { RequestId } from "@modelcontextprotocol/client";

/** Client requests whose answer has not gone to the client yet (waiting, in flight or held back), with their method. */
export class UnansweredRequests {
  private readonly methods = new Map<RequestId, string>();
  /** Called once no request is left, while {@link allAnswered} waits for it. */
  private onEmpty: (() => void) | undefined;

  get size(): number {
    return this.methods.size;
  }

  add(id: RequestId, method: string): void {
    this.methods.set(id, method);
  }

  /** The answer to `id` has gone to the client, or none is due any more. */
  answered(id: RequestId): void {
    if (!this.methods.delete(id)) return;
    if (this.methods.size === 0) this.onEmpty?.();
  }

  /** Settles once every request has its answer, or after `timeoutMs`, or when {@link stopWaiting} is called. */
  async allAnswered(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.onEmpty = resolve;
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    this.onEmpty = undefined;
  }

  /** Ends a wait in {@link allAnswered} now (the bridge is closing). */
  stopWaiting(): void {
    this.onEmpty?.();
  }

  /** The requests left, as `[id, method]` pairs (a copy, so answering them while iterating is safe). */
  entries(): [RequestId, string][] {
    return [...this.methods];
  }
}
