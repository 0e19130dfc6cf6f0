/**
 * Results a 2026-07-28 server says may be reused (server/utilities/caching §Cacheable Results): `tools/list`,
 * `prompts/list`, `resources/list`, `resources/templates/list`, `resources/read` and `server/discover` carry `ttlMs`
 * (how long the result stays fresh) and `cacheScope` (`public`: the same for every caller; `private`: only for the
 * caller who got it). The proxy answers a repeat request from here while the result is fresh, per upstream and, for
 * `private`, per grant (the user's sign-in); a `private` result is never served to another grant. A list-changed
 * notification drops that list's entries (every grant: the server changed it), `notifications/resources/updated`
 * the reads of that resource. A missing or invalid `ttlMs`/`cacheScope` means 0 / not cacheable.
 *
 * Entries hold the result's JSON text, so a caller that changes the result it was given cannot change the cache.
 */

export const CACHEABLE_METHODS: ReadonlySet<string> = new Set([
  "tools/list",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "server/discover",
]);

/** The cached lists each list-changed notification makes stale. */
const STALE_AFTER: Readonly<Record<string, readonly string[]>> = {
  "notifications/tools/list_changed": ["tools/list"],
  "notifications/prompts/list_changed": ["prompts/list"],
  "notifications/resources/list_changed": ["resources/list", "resources/templates/list"],
};

export interface ResultCacheOptions {
  /** Entries at most, over all upstreams and grants; the oldest go first (default 1,000). */
  maxEntries?: number;
  /** Results larger than this (JSON characters) are not kept (default 1 MiB). */
  maxResultChars?: number;
  /** A server's `ttlMs` is honoured up to this (default 1 hour). */
  maxTtlMs?: number;
  /** Hears every lookup of a cacheable method: for the `/metrics` hit and miss counters. */
  onLookup?: ((upstream: string, method: string, hit: boolean) => void) | undefined;
  now?: () => number;
}

/** Who asks: the upstream (its URL or configured name) and the grant whose token the request goes with. */
export interface CacheCaller {
  upstream: string;
  grant: string;
}

/**
 * The cache as one upstream's transport uses it: the results, the upstream, and the grant of the request being
 * handled: fixed where one sign-in serves every request (stdio, a single-user face), the caller's own behind
 * --identity; undefined when no grant is known, and then the request is neither answered from nor kept in it.
 */
export interface UpstreamCache {
  results: ResultCache;
  upstream: string;
  grant: () => string | undefined;
}

/**
 * Drops `upstream`'s entries whenever its sign-in changes hands (signed out, or signed in as another account): a
 * `private` result belongs to the account that got it. A refresh of the same sign-in keeps them. Returns the
 * unsubscribe.
 */
export function clearOnSignInChange(
  auth: { onStateChange(listener: (status: { signedIn: boolean; account?: string | undefined }) => void): () => void },
  results: ResultCache,
  upstream: string,
): () => void {
  let holder: string | undefined;
  return auth.onStateChange((status) => {
    const now = status.signedIn ? `signed in as ${status.account ?? "?"}` : undefined;
    if (now !== holder || now === undefined) results.clear(upstream);
    holder = now;
  });
}

/** The caller a request of `cache` is for now, if a grant is known. */
export function cacheCallerOf(cache: UpstreamCache | undefined): CacheCaller | undefined {
  const grant = cache?.grant();
  return cache && grant !== undefined ? { upstream: cache.upstream, grant } : undefined;
}

interface Entry {
  json: string;
  expiresAt: number;
  upstream: string;
  method: string;
  uri: string | undefined;
}

export class ResultCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxResultChars: number;
  private readonly maxTtlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ResultCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 1_000;
    this.maxResultChars = options.maxResultChars ?? 1024 * 1024;
    this.maxTtlMs = options.maxTtlMs ?? 60 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Entries held now (fresh or not yet swept). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * A fresh copy of the cached result for this request, or undefined. Counts a hit or a miss for cacheable methods;
   * other methods are neither.
   */
  lookup(caller: CacheCaller, method: string, params: unknown): Record<string, unknown> | undefined {
    if (!CACHEABLE_METHODS.has(method)) return undefined;
    const request = requestKey(method, params);
    const entry = this.fresh(privateKey(caller, request)) ?? this.fresh(publicKey(caller, request));
    this.options.onLookup?.(caller.upstream, method, entry !== undefined);
    return entry ? (JSON.parse(entry.json) as Record<string, unknown>) : undefined;
  }

  /** Keeps `result` when the server allows it: `ttlMs` > 0 and `cacheScope` `public` or `private`. */
  store(caller: CacheCaller, method: string, params: unknown, result: unknown): void {
    if (!CACHEABLE_METHODS.has(method) || typeof result !== "object" || result === null) return;
    const { ttlMs, cacheScope, resultType } = result as { ttlMs?: unknown; cacheScope?: unknown; resultType?: unknown };
    if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs <= 0) return;
    if (cacheScope !== "public" && cacheScope !== "private") return;
    // Only a complete result is the answer; an input_required one is one round of a conversation.
    if (resultType !== undefined && resultType !== "complete") return;
    const json = JSON.stringify(result);
    if (json.length > this.maxResultChars) return;
    const request = requestKey(method, params);
    const key = cacheScope === "private" ? privateKey(caller, request) : publicKey(caller, request);
    this.entries.delete(key);
    this.entries.set(key, {
      json,
      expiresAt: this.now() + Math.min(ttlMs, this.maxTtlMs),
      upstream: caller.upstream,
      method,
      uri: method === "resources/read" ? uriOf(params) : undefined,
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  /**
   * Drops what a notification from `upstream` makes stale: a list-changed notification that list's entries for
   * every grant, `notifications/resources/updated` the cached reads of its `uri`. Other notifications change nothing.
   */
  notified(upstream: string, method: string, params?: unknown): void {
    const lists = STALE_AFTER[method];
    const updatedUri = method === "notifications/resources/updated" ? uriOf(params) : undefined;
    if (!lists && updatedUri === undefined) return;
    for (const [key, entry] of this.entries) {
      if (entry.upstream !== upstream) continue;
      if (lists?.includes(entry.method) || (updatedUri !== undefined && entry.uri === updatedUri)) {
        this.entries.delete(key);
      }
    }
  }

  /** Drops every entry of `upstream` (it was replaced, or its sign-in changed). */
  clear(upstream?: string): void {
    if (upstream === undefined) {
      this.entries.clear();
      return;
    }
    for (const [key, entry] of this.entries) if (entry.upstream === upstream) this.entries.delete(key);
  }

  private fresh(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > this.now()) return entry;
    this.entries.delete(key);
    return undefined;
  }
}

/**
 * The request's identity: method and params without `_meta` (progress tokens, trace context and the client's
 * details differ from call to call without changing the answer), with the protocol version from `_meta` kept.
 */
function requestKey(method: string, params: unknown): string {
  if (typeof params !== "object" || params === null) return `${method}\u0000`;
  const { _meta, ...rest } = params as Record<string, unknown>;
  const version = (_meta as Record<string, unknown> | undefined)?.["io.modelcontextprotocol/protocolVersion"];
  return `${method}\u0000${typeof version === "string" ? version : ""}\u0000${stableJson(rest)}`;
}

function privateKey(caller: CacheCaller, request: string): string {
  return `p\u0000${caller.upstream}\u0000${caller.grant}\u0000${request}`;
}

function publicKey(caller: CacheCaller, request: string): string {
  return `s\u0000${caller.upstream}\u0000${request}`;
}

function uriOf(params: unknown): string | undefined {
  const uri = (params as { uri?: unknown } | undefined)?.uri;
  return typeof uri === "string" ? uri : undefined;
}

/** JSON with object keys sorted, so that `{a, b}` and `{b, a}` name the same request. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (typeof value !== "object" || value === null) return JSON.stringify(value) ?? "null";
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .filter((key) => record[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${stableJson(record[key])}`)
    .join(",")}}`;
}
