/**
 * A TokenStore in Redis, shared by every replica pointed at the same server (node-redis, loaded on first use).
 * Layout under the prefix (default `mcp-u2m:`), see docs/scale-out.md:
 * - `rec:<store key>:<kind>`: a hash {rev, gen, data}: the revision, a store-wide write counter, the record's JSON;
 * - `idx:<upstream key>`: a set of the `<store key>:<kind>` records of an upstream and its grants;
 * - `upstreams`: the set of upstream keys with at least one record; `gen`: the write counter;
 * - `lock:<key>.<name>`: a lease (`SET NX PX`, released and extended by a compare-value Lua script);
 * - channel `changed`: one message per write or removal, so other replicas re-read (see change-feed.ts).
 * Writes and removals are Lua scripts, so the compare-and-set, the indexes and the notification are one atomic step.
 * Single-instance Redis (or a primary with replicas for failover); Redis Cluster is not supported (multi-key scripts).
 */
import type { RedisClientType } from "redis";
import { ProxyError } from "../lib/errors.ts";
import { ChangeFeed } from "./change-feed.ts";
import { type LeaseBackend, LeaseLocks } from "./lease-lock.ts";
import { conflictError } from "./revisions.ts";
import { sharedWrite, storedRecord } from "./shared-records.ts";
import { assertRecordKey, assertStoreKey, assertUpstreamKey, isPrincipalGrantKey, upstreamKeyOf } from "./store-key.ts";
import { redactStoreUrl } from "./store-url.ts";
import type {
  HeldLock,
  RecordKind,
  RecordTypes,
  StoreChange,
  StoredRecord,
  TokenStore,
  WriteOptions,
} from "./token-store.ts";

export interface RedisTokenStoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss://… */
  url: string;
  /** Prefix of every key and of the channel; default `mcp-u2m:`. */
  prefix?: string;
  onWarning?: (message: string) => void;
  /** Default `waitMs` of withLock. Default 30 s. */
  lockWaitMs?: number;
  /** How long a lease lasts without renewal (a dead holder delays the others this long). Default 10 s. */
  leaseMs?: number;
  /** How long the first operation waits for the first connection. Default 5 s. */
  connectWaitMs?: number;
}

// KEYS: record, upstream index, upstreams set, counter. ARGV: mode (any|absent|rev), expected, data, member,
// upstream key, channel, message. Returns {1, new revision} or {0, current revision or "-"}.
const WRITE = `
local cur = redis.call('HGET', KEYS[1], 'rev')
if ARGV[1] == 'absent' and cur then return {0, cur} end
if ARGV[1] == 'rev' and cur ~= ARGV[2] then return {0, cur or '-'} end
local rev = (tonumber(cur) or 0) + 1
local gen = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], 'rev', rev, 'gen', gen, 'data', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return {1, rev}`;

// KEYS: upstream index, upstreams set. ARGV: prefix, upstream key, channel, message, then the members to remove,
// or "*" for all of the index.
const REMOVE = `
local members = {}
if ARGV[5] == '*' then members = redis.call('SMEMBERS', KEYS[1]) else for i = 5, #ARGV do members[#members + 1] = ARGV[i] end end
for _, m in ipairs(members) do
  redis.call('DEL', ARGV[1] .. 'rec:' .. m)
  redis.call('SREM', KEYS[1], m)
end
if redis.call('SCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return #members`;

const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export class RedisTokenStore implements TokenStore {
  readonly location: string;
  readonly #url: string;
  readonly #prefix: string;
  readonly #warn: (message: string) => void;
  readonly #waitMs: number;
  readonly #connectWaitMs: number;
  readonly #feed = new ChangeFeed();
  readonly #locks: LeaseLocks;
  #clients: Promise<{ main: RedisClientType; sub: RedisClientType; firstConnect: Promise<unknown> }> | undefined;
  #main: RedisClientType | undefined;
  #everReady = false;
  #closed = false;

  constructor(options: RedisTokenStoreOptions) {
    this.#url = options.url;
    this.location = redactStoreUrl(options.url);
    this.#prefix = options.prefix ?? "mcp-u2m:";
    this.#warn = options.onWarning ?? (() => {});
    this.#waitMs = options.lockWaitMs ?? 30_000;
    this.#connectWaitMs = options.connectWaitMs ?? 5000;
    this.#locks = new LeaseLocks(this.#leaseBackend(), {
      leaseMs: options.leaseMs ?? 10_000,
      waitMs: this.#waitMs,
      where: `the Redis store ${this.location}`,
      onWarning: this.#warn,
    });
  }

  async read<K extends RecordKind>(key: string, kind: K): Promise<StoredRecord<K> | undefined> {
    assertRecordKey(key, kind);
    const recordKey = this.#recordKey(key, kind);
    const [rev, data] = await this.#command<[string | null, string | null]>(["HMGET", recordKey, "rev", "data"]);
    if (rev === null || data === null) return undefined;
    return storedRecord(kind, data, Number(rev), {
      newer: (reason) => this.#warn(`${recordKey} in ${this.location}: ${reason}; treating it as absent.`),
      unreadable: (reason) => this.#quarantine(key, kind, reason),
    });
  }

  async write<K extends RecordKind>(
    key: string,
    kind: K,
    value: RecordTypes[K],
    options?: WriteOptions,
  ): Promise<number> {
    const { data, expected } = sharedWrite(key, kind, value, options);
    const upstream = upstreamKeyOf(key);
    const [ok, revision] = await this.#command<[number, string]>([
      "EVAL",
      WRITE,
      "4",
      this.#recordKey(key, kind),
      this.#indexKey(upstream),
      `${this.#prefix}upstreams`,
      `${this.#prefix}gen`,
      expected === undefined ? "any" : expected === null ? "absent" : "rev",
      expected === undefined || expected === null ? "" : String(expected),
      data,
      `${key}:${kind}`,
      upstream,
      this.#channel,
      this.#feed.message(key, kind),
    ]);
    if (ok !== 1) {
      throw conflictError(key, kind, expected ?? null, revision === "-" ? undefined : Number(revision));
    }
    this.#feed.changedHere(key, kind);
    return Number(revision);
  }

  async remove(key: string, kind?: RecordKind): Promise<void> {
    if (kind) assertRecordKey(key, kind);
    else assertStoreKey(key);
    const upstream = upstreamKeyOf(key);
    // An upstream key without a kind: its records and every grant's (a `clear`); a grant key: its tokens.
    const all = !kind && !isPrincipalGrantKey(key);
    const members = all ? ["*"] : [`${key}:${kind ?? "tokens"}`];
    await this.#command([
      "EVAL",
      REMOVE,
      "2",
      this.#indexKey(upstream),
      `${this.#prefix}upstreams`,
      this.#prefix,
      upstream,
      this.#channel,
      this.#feed.message(key, all ? undefined : (kind ?? "tokens")),
      ...members,
    ]);
    this.#feed.changedHere(key, all ? undefined : (kind ?? "tokens"));
  }

  async keys(): Promise<string[]> {
    return (await this.#command<string[]>(["SMEMBERS", `${this.#prefix}upstreams`])).sort();
  }

  async grantKeys(upstreamKey: string): Promise<string[]> {
    assertUpstreamKey(upstreamKey);
    const members = await this.#command<string[]>(["SMEMBERS", this.#indexKey(upstreamKey)]);
    return members
      .filter((member) => member.endsWith(":tokens"))
      .map((member) => member.slice(0, -":tokens".length))
      .sort();
  }

  async withLock<T>(
    key: string,
    name: "refresh" | "sign-in",
    fn: (lock: HeldLock) => Promise<T>,
    options: { waitMs?: number } = {},
  ): Promise<T> {
    assertStoreKey(key);
    return this.#locks.run(key, name, fn, options.waitMs ?? this.#waitMs);
  }

  /** From memory, kept current by the change channel: no round trip (see change-feed.ts). */
  async stamp(key: string, kind: RecordKind): Promise<string> {
    assertRecordKey(key, kind);
    return this.#feed.stamp(key, kind);
  }

  watch(listener: (change: StoreChange) => void): () => void {
    void this.#connect().catch(() => {});
    return this.#feed.watch(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const clients = this.#clients;
    this.#clients = undefined;
    if (!clients) return;
    const { main, sub } = await clients;
    await Promise.allSettled([endClient(main), endClient(sub)]);
  }

  sidecarPath(): undefined {
    return undefined;
  }

  get #channel(): string {
    return `${this.#prefix}changed`;
  }

  #recordKey(key: string, kind: RecordKind): string {
    return `${this.#prefix}rec:${key}:${kind}`;
  }

  #indexKey(upstreamKey: string): string {
    return `${this.#prefix}idx:${upstreamKey}`;
  }

  #leaseBackend(): LeaseBackend {
    const lockKey = (name: string) => `${this.#prefix}lock:${name}`;
    return {
      acquire: async (name, holder, ttlMs) =>
        (await this.#command(["SET", lockKey(name), holder, "NX", "PX", String(ttlMs)])) === "OK",
      extend: async (name, holder, ttlMs) =>
        Number(await this.#command(["EVAL", EXTEND, "1", lockKey(name), holder, String(ttlMs)])) === 1,
      release: async (name, holder) => {
        await this.#command(["EVAL", RELEASE, "1", lockKey(name), holder]);
      },
    };
  }

  /** Moves an unreadable record aside to `…:corrupt-<time>` (kept) and out of the indexes, and says so. */
  async #quarantine(key: string, kind: RecordKind, reason: string): Promise<void> {
    const recordKey = this.#recordKey(key, kind);
    const target = `${recordKey}:corrupt-${new Date().toISOString().replace(/[-:.]/g, "")}`;
    try {
      await this.#command(["RENAME", recordKey, target]);
      await this.#command(["SREM", this.#indexKey(upstreamKeyOf(key)), `${key}:${kind}`]);
      this.#warn(`${recordKey} in ${this.location} was unreadable (${reason}); moved it to ${target}.`);
    } catch {
      this.#warn(`${recordKey} in ${this.location} is unreadable (${reason}) and could not be moved aside.`);
    }
  }

  /** Runs one command; fails at once with STORE_ERROR while the server is unreachable (no offline queue). */
  async #command<T>(args: string[]): Promise<T> {
    const main = await this.#ready();
    try {
      return (await main.sendCommand(args)) as T;
    } catch (error) {
      throw this.#unreachable(error);
    }
  }

  async #ready(): Promise<RedisClientType> {
    if (this.#closed) throw new ProxyError("INTERNAL", `The Redis store ${this.location} was closed.`);
    // Loading node-redis takes a moment (seconds on a busy machine): the connect wait starts once it is loaded.
    const { firstConnect } = await this.#connect();
    if (this.#main?.isReady) return this.#main;
    if (!this.#everReady) {
      // The first operation waits for the first connection; later ones fail fast while it is down.
      await Promise.race([firstConnect, sleep(this.#connectWaitMs)]);
      if (this.#main?.isReady) return this.#main;
    }
    throw this.#unreachable(undefined);
  }

  #connect(): Promise<{ main: RedisClientType; sub: RedisClientType; firstConnect: Promise<unknown> }> {
    this.#clients ??= (async () => {
      const { createClient } = await import("redis");
      const main = createClient({
        url: this.#url,
        disableOfflineQueue: true,
        socket: { connectTimeout: 5000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) },
      }) as RedisClientType;
      const sub = main.duplicate() as RedisClientType;
      this.#main = main;
      let down = false;
      main.on("error", (error: unknown) => {
        if (down) return;
        down = true;
        this.#warn(`The Redis store ${this.location} is unreachable (${errorText(error)}); retrying.`);
      });
      main.on("ready", () => {
        if (down) this.#warn(`The Redis store ${this.location} is reachable again.`);
        down = false;
        this.#everReady = true;
      });
      sub.on("error", () => {});
      sub.on("ready", () => this.#feed.reconnected());
      const firstConnect = main.connect().catch(() => {});
      void sub
        .connect()
        .then(() => sub.subscribe(this.#channel, (message: string) => this.#feed.received(message)))
        .catch(() => {});
      return { main, sub, firstConnect };
    })();
    return this.#clients;
  }

  #unreachable(cause: unknown): ProxyError {
    if (cause instanceof ProxyError) return cause;
    if (cause instanceof Error && cause.constructor.name === "ErrorReply") {
      return new ProxyError(
        "STORE_ERROR",
        `The Redis token store ${this.location} refused a command: ${cause.message}`,
        {
          hint: "Check that the server is Redis 6.2 or newer (or Valkey), not a cluster, and that this user may run EVAL.",
          cause,
        },
      );
    }
    const why = cause === undefined ? "not connected" : errorText(cause);
    return new ProxyError("STORE_ERROR", `The Redis token store ${this.location} is unreachable (${why}).`, {
      hint: "Check that Redis is running and reachable; tokens already in memory keep working meanwhile.",
      ...(cause === undefined ? {} : { cause }),
    });
  }
}

/** How long a closing client may wait for the answers to its pending commands before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

/**
 * Ends a client: a connected one finishes its pending commands first, within CLOSE_GRACE_MS; one that is not (the
 * server down, reconnecting) is destroyed at once. node-redis's close() waits for answers that never come when the
 * server goes away meanwhile, and nothing else then keeps the process alive.
 */
async function endClient(client: RedisClientType): Promise<void> {
  if (!client.isReady) return client.destroy();
  let timer: NodeJS.Timeout | undefined;
  const closed = client.close().then(() => true);
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), CLOSE_GRACE_MS);
  });
  try {
    if (!(await Promise.race([closed, late]))) client.destroy();
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}

function errorText(error: unknown): string {
  if (typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string") {
    return (error as { code: string }).code;
  }
  return error instanceof Error ? error.message : String(error);
}
