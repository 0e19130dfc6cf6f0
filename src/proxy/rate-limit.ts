import { ProxyError } from "../lib/errors.ts";

/**
 * Per-upstream rate limiting of the requests the face relays: a token bucket per key (the upstream's name) that
 * holds at most `burst` requests and refills at `requestsPerMinute`. Keys are independent: one upstream at its limit
 * never slows another. The clock is injected so that decisions are tested without waiting.
 */
export interface RateLimit {
  /** Sustained rate; the bucket refills at this many requests per minute. */
  requestsPerMinute: number;
  /** Requests that may arrive at once after a quiet spell (the bucket's size; default requestsPerMinute). */
  burst?: number | undefined;
}

export type RateDecision =
  | { allowed: true }
  | {
      allowed: false;
      /** Whole seconds (at least 1) until the next request would be allowed: the `Retry-After` value. */
      retryAfterSeconds: number;
      requestsPerMinute: number;
      burst: number;
    };

export interface RateLimiterOptions {
  /** Milliseconds since some epoch (default Date.now); only differences are used. */
  now?: (() => number) | undefined;
}

const ALLOWED: RateDecision = { allowed: true };

interface Bucket {
  readonly perMinute: number;
  readonly burst: number;
  tokens: number;
  updatedAt: number;
}

export class RateLimiter {
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(options: RateLimiterOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Sets (or, with undefined, removes) the limit of `key`. An unchanged limit keeps the bucket's level, so a
   * config reload does not hand out a fresh burst; a changed one starts full.
   */
  configure(key: string, limit: RateLimit | undefined): void {
    if (!limit) {
      this.buckets.delete(key);
      return;
    }
    const { perMinute, burst } = checkedLimit(limit);
    const current = this.buckets.get(key);
    if (current && current.perMinute === perMinute && current.burst === burst) return;
    this.buckets.set(key, { perMinute, burst, tokens: burst, updatedAt: this.now() });
  }

  /** Forgets `key` (its upstream was removed). */
  remove(key: string): void {
    this.buckets.delete(key);
  }

  /** Whether `key` has a limit. */
  has(key: string): boolean {
    return this.buckets.has(key);
  }

  /** Takes one request from `key`'s bucket. A key without a limit is always allowed. */
  take(key: string): RateDecision {
    const bucket = this.buckets.get(key);
    if (!bucket) return ALLOWED;
    const now = this.now();
    // A clock that steps back (tests, NTP) refills nothing and takes nothing away.
    const elapsedMs = Math.max(0, now - bucket.updatedAt);
    bucket.tokens = Math.min(bucket.burst, bucket.tokens + (elapsedMs * bucket.perMinute) / 60_000);
    bucket.updatedAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return ALLOWED;
    }
    const waitMs = ((1 - bucket.tokens) * 60_000) / bucket.perMinute;
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
      requestsPerMinute: bucket.perMinute,
      burst: bucket.burst,
    };
  }
}

/** The error a refused request gets (HTTP 429 with `Retry-After`, JSON-RPC RATE_LIMITED), naming the limit. */
export function rateLimitedError(upstream: string, decision: Extract<RateDecision, { allowed: false }>): ProxyError {
  return new ProxyError(
    "RATE_LIMITED",
    `The proxy's rate limit for ${upstream} is reached (${decision.requestsPerMinute} requests per minute, burst ${decision.burst}).`,
    {
      hint: `Retry in ${decision.retryAfterSeconds} s, or raise "rateLimit" for this server in the config file.`,
      details: {
        upstream,
        limit: { requestsPerMinute: decision.requestsPerMinute, burst: decision.burst },
        retryAfterSeconds: decision.retryAfterSeconds,
      },
    },
  );
}

function checkedLimit(limit: RateLimit): { perMinute: number; burst: number } {
  const perMinute = limit.requestsPerMinute;
  const burst = limit.burst ?? perMinute;
  if (!(Number.isFinite(perMinute) && perMinute > 0 && Number.isFinite(burst) && burst >= 1)) {
    throw new ProxyError(
      "USAGE",
      `A rate limit needs requestsPerMinute above 0 and burst of at least 1 (got ${perMinute} and ${burst}).`,
      { hint: 'For example "rateLimit": {"requestsPerMinute": 120, "burst": 20}.' },
    );
  }
  return { perMinute, burst };
}
