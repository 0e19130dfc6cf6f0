/**
 * What a shared store (Redis pub/sub, Postgres LISTEN/NOTIFY) hears about writes by other processes, kept in memory
 * so `stamp()` costs nothing on the request hot path: a record's stamp changes when a notification for it arrives,
 * when this process writes it, and for every record when the notification channel (re)connects (notifications may
 * have been missed while it was down). While the channel is down stamps stay as they are: tokens held in memory keep
 * serving, and the refresh path re-reads the store under its lock anyway.
 */
import { randomBytes } from "node:crypto";
import { RECORD_KINDS } from "./record-schemas.ts";
import { upstreamKeyOf } from "./store-key.ts";
import type { RecordKind, StoreChange } from "./token-store.ts";

export class ChangeFeed {
  /** Tags this process's notifications, so its own writes are not taken for another process's. */
  readonly origin = randomBytes(6).toString("hex");
  #epoch = 0;
  readonly #counts = new Map<string, number>();
  readonly #listeners = new Set<(change: StoreChange) => void>();

  stamp(key: string, kind: RecordKind): string {
    const own = this.#counts.get(`${key} ${kind}`) ?? 0;
    const cleared = this.#counts.get(`${upstreamKeyOf(key)} *`) ?? 0;
    return `${this.#epoch}:${own}:${cleared}`;
  }

  /** The notification text for a write (a kind) or a removal of every record of an upstream (no kind). */
  message(key: string, kind?: RecordKind): string {
    return `${this.origin} ${key} ${kind ?? "*"}`;
  }

  /** This process wrote or removed the record. */
  changedHere(key: string, kind?: RecordKind): void {
    this.#bump(key, kind);
  }

  /** A notification arrived (anything malformed is ignored: the channel is shared with nobody but it is not trusted). */
  received(message: string): void {
    const [origin, key, kind] = message.split(" ");
    if (!origin || !key || !kind || origin === this.origin) return;
    if (kind !== "*" && !(RECORD_KINDS as readonly string[]).includes(kind)) return;
    const change = kind === "*" ? { key } : { key, kind: kind as RecordKind };
    this.#bump(change.key, change.kind);
    this.#emit(change);
  }

  /** The channel (re)connected: anything may have changed meanwhile. */
  reconnected(): void {
    this.#epoch++;
    this.#emit({});
  }

  watch(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #bump(key: string, kind: RecordKind | undefined): void {
    const id = kind ? `${key} ${kind}` : `${upstreamKeyOf(key)} *`;
    this.#counts.set(id, (this.#counts.get(id) ?? 0) + 1);
  }

  #emit(change: StoreChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch {
        // A listener's bug must not stop the others from hearing about the change.
      }
    }
  }
}
