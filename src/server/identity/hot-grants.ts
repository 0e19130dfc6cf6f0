import type { Caller } from "./caller.ts";
import type { UserAuth } from "./per-user-auth.ts";

/** One user's core while it is held in memory. */
export interface HotGrant {
  readonly caller: Caller;
  readonly auth: UserAuth;
  /** Removes the listeners the owner registered on this core (state changes, refresh outcomes). */
  readonly unsubscribe: () => void;
  /** Operations on this core still running: while any is, it is never evicted. */
  inUse: number;
}

/**
 * The users' cores a replica keeps in memory, least recently used first, at most `cap` of them: with many users a
 * replica holds only the hot ones. An evicted core has its listeners removed and is closed (which drops its shared
 * store subscription); the grant stays in the store, and the user's next request creates a core that re-reads it.
 * A core in use (an operation running, or a sign-in waiting for its callback) is skipped, so the set may briefly
 * exceed the cap; it shrinks back when those finish.
 */
export class HotGrants {
  private readonly entries = new Map<string, HotGrant>();

  constructor(
    readonly cap: number,
    private readonly onEvicted: (principal: string, entry: HotGrant) => void = () => {},
  ) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError("the hot grant cap must be a whole number ≥ 1");
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry of `principal`, marked most recently used. */
  get(principal: string): HotGrant | undefined {
    const entry = this.entries.get(principal);
    if (entry) {
      this.entries.delete(principal);
      this.entries.set(principal, entry);
    }
    return entry;
  }

  add(principal: string, entry: HotGrant): void {
    this.entries.set(principal, entry);
    this.trim();
  }

  values(): IterableIterator<HotGrant> {
    return this.entries.values();
  }

  /**
   * Evicts the least recently used idle entries until at most `cap` remain (or only busy ones are left). The most
   * recent entry is never evicted: its user is the one being served.
   */
  trim(): void {
    if (this.entries.size <= this.cap) return;
    const newest = [...this.entries.keys()].at(-1);
    for (const [principal, entry] of this.entries) {
      if (this.entries.size <= this.cap || principal === newest) return;
      if (entry.inUse > 0 || entry.auth.pendingSignIn() !== undefined) continue;
      this.entries.delete(principal);
      this.onEvicted(principal, entry);
    }
  }

  /** Empties the set, returning what it held (for close()). */
  drain(): HotGrant[] {
    const all = [...this.entries.values()];
    this.entries.clear();
    return all;
  }
}
