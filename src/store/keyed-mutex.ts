/**
 * In-process exclusive locks by name, granted first come first served, with a bounded wait.
 * The file store puts one in front of its cross-process lock (proper-lockfile refuses a second lock on the
 * same file from the same process instead of waiting), and the memory store uses one as its only lock.
 */
export type Release = () => void;

interface Waiter {
  grant: (release: Release) => void;
  timer: NodeJS.Timeout;
}

export class KeyedMutex {
  /** Present while the name is held; holds the waiters in arrival order. */
  readonly #queues = new Map<string, Waiter[]>();

  /**
   * Waits until `name` is free, up to `waitMs`, and holds it. Resolves with a release function (idempotent),
   * or with undefined when the wait ran out.
   */
  acquire(name: string, waitMs: number): Promise<Release | undefined> {
    const queue = this.#queues.get(name);
    if (!queue) {
      this.#queues.set(name, []);
      return Promise.resolve(this.#releaseFor(name));
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(
          () => {
            const index = queue.indexOf(waiter);
            if (index >= 0) queue.splice(index, 1);
            resolve(undefined);
          },
          Math.max(0, waitMs),
        ),
      };
      queue.push(waiter);
    });
  }

  /** Whether someone holds `name` now. */
  isHeld(name: string): boolean {
    return this.#queues.has(name);
  }

  #releaseFor(name: string): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const queue = this.#queues.get(name);
      const next = queue?.shift();
      if (!next) {
        this.#queues.delete(name);
        return;
      }
      clearTimeout(next.timer);
      next.grant(this.#releaseFor(name));
    };
  }
}
