/**
 * `withLock` for shared stores (Redis, Postgres): an exclusive lease with an expiry, held by a random holder id,
 * renewed while `fn` runs and released only by its holder. A holder that dies or stalls loses the lease when it
 * expires, so the others wait at most one lease. A lease can be lost while `fn` still runs (a stall longer than the
 * lease, the store unreachable for that long): `fn` is told through {@link HeldLock} and the warning callback, and
 * what it writes must be fenced (a compare-and-set on the record's revision) because another holder may be inside.
 * In this process the callers queue in a KeyedMutex first, so only one of them polls the server.
 */
import { randomUUID } from "node:crypto";
import { ProxyError } from "../lib/errors.ts";
import { KeyedMutex } from "./keyed-mutex.ts";
import type { HeldLock } from "./token-store.ts";

/** The three server-side operations of a lease, each atomic in the server. */
export interface LeaseBackend {
  /** Takes the lease if it is free or expired; true when `holder` now holds it for `ttlMs`. */
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Extends the lease to `ttlMs` from now if `holder` still holds it; false when it does not. */
  extend(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Ends the lease if `holder` still holds it (a lost lease is someone else's now: left alone). */
  release(name: string, holder: string): Promise<void>;
}

export interface LeaseLocksOptions {
  /** How long a lease lasts without renewal: how long a dead holder delays the others. */
  leaseMs: number;
  /** Default wait for a lease. */
  waitMs: number;
  /** The store, for messages ("the Redis store redis://host:6379"), without a password. */
  where: string;
  onWarning: (message: string) => void;
}

const LOCK_NAMES = new Set(["refresh", "sign-in"]);

export class LeaseLocks {
  readonly #local = new KeyedMutex();

  constructor(
    private readonly backend: LeaseBackend,
    private readonly options: LeaseLocksOptions,
  ) {}

  async run<T>(key: string, name: string, fn: (lock: HeldLock) => Promise<T>, waitMs: number): Promise<T> {
    if (!LOCK_NAMES.has(name)) throw new ProxyError("INTERNAL", `Unknown lock name ${JSON.stringify(name)}.`);
    const leaseName = `${key}.${name}`;
    const deadline = Date.now() + waitMs;
    const releaseLocal = await this.#local.acquire(leaseName, waitMs);
    if (!releaseLocal) throw this.#timeout(key, name, waitMs);
    try {
      const holder = randomUUID();
      while (!(await this.backend.acquire(leaseName, holder, this.options.leaseMs))) {
        const left = deadline - Date.now();
        if (left <= 0) throw this.#timeout(key, name, waitMs);
        await sleep(Math.min(left, 20 + Math.random() * 80));
      }
      return await this.#holding(leaseName, holder, fn);
    } finally {
      releaseLocal();
    }
  }

  async #holding<T>(leaseName: string, holder: string, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
    const { leaseMs } = this.options;
    const { lock, controller } = newHeldLock();
    let renewedAt = Date.now();
    const lose = (why: string) => {
      if (controller.signal.aborted) return;
      controller.abort(new Error(why));
      this.options.onWarning(
        `Lost the lease ${leaseName} on ${this.options.where} while holding it (${why}); another process may hold it now.`,
      );
    };
    const timer = setInterval(
      () => {
        if (controller.signal.aborted) return;
        this.backend.extend(leaseName, holder, leaseMs).then(
          (held) => {
            if (held) renewedAt = Date.now();
            else lose("it expired before it was renewed");
          },
          () => {
            if (Date.now() - renewedAt >= leaseMs) lose(`the store was unreachable for ${leaseMs} ms`);
          },
        );
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    timer.unref();
    try {
      return await fn(lock);
    } finally {
      clearInterval(timer);
      if (!controller.signal.aborted) {
        await this.backend.release(leaseName, holder).catch((error: unknown) => {
          this.options.onWarning(
            `Could not release the lease ${leaseName} on ${this.options.where} (${errorText(error)}); it ends by itself within ${leaseMs} ms.`,
          );
        });
      }
    }
  }

  #timeout(key: string, name: string, waitMs: number): ProxyError {
    return new ProxyError(
      "STORE_ERROR",
      `Timed out after ${waitMs} ms waiting for the ${name} lock of ${key} (${this.options.where}).`,
      {
        hint:
          name === "sign-in"
            ? "Another replica or process is signing in to this server; finish or cancel that sign-in and retry."
            : "Another replica or process is refreshing tokens for this server; retry in a moment.",
        details: { waitMs },
      },
    );
  }
}

/** A HeldLock and the controller that marks it lost. */
export function newHeldLock(): { lock: HeldLock; controller: AbortController } {
  const controller = new AbortController();
  const lock: HeldLock = {
    get lost() {
      return controller.signal.aborted;
    },
    signal: controller.signal,
  };
  return { lock, controller };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorText(error: unknown): string {
  return error instanceof ProxyError ? error.message : error instanceof Error ? error.message : String(error);
}
