import { setMaxListeners } from "node:events";
import type { Dispatcher } from "undici";
import { DEFAULTS } from "../config/defaults.ts";
import { dispatcherFetch, headerRecord } from "../lib/dispatcher-fetch.ts";
import { discardBody } from "../lib/fetch-annotations.ts";
import { rememberHeaderSecrets } from "../lib/redact.ts";
import type { AuthClient } from "./auth-client.ts";
import { answerChallenge, isAuthChallenge } from "./upstream-call-policy.ts";

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface AuthorizedFetchOptions {
  /** The fetch to wrap (default global fetch). */
  fetch?: FetchLike;
  /** Static headers added to every request (--header). */
  headers?: Record<string, string>;
  /**
   * How long one request may wait for a sign-in it started (the person is in the browser) before it fails with the
   * sign-in URL (default 45 s). 0: fail at once.
   */
  signInWaitMs?: number;
  /**
   * The undici dispatcher (keep-alive pool) every request goes through instead of fetch's process-wide one: the
   * upstream's own connections, closed with it. Its owner closes it.
   */
  dispatcher?: Dispatcher | undefined;
}

/**
 * A fetch that puts the upstream token on every request and answers 401/403 challenges through the auth core:
 * refresh or step-up, then replay the request (bodies here are strings, so replay is safe). When the user must
 * sign in, or the auth core gives up, it rejects with the ProxyError that says why. The replay budget and the
 * challenge test are the HTTP relay's too (upstream-call-policy.ts).
 * Used by the stdio bridge and the SDK client transports; the HTTP face's pass-through relay does the same with undici.
 */
export function createAuthorizedFetch(auth: AuthClient | undefined, options: AuthorizedFetchOptions = {}): FetchLike {
  // With a dispatcher of the upstream's own, requests go straight over it (dispatcher-fetch.ts), not through fetch.
  const dispatcher = options.fetch ? options.dispatcher : undefined;
  const baseFetch = options.fetch ?? (options.dispatcher ? dispatcherFetch(options.dispatcher) : fetch);
  rememberHeaderSecrets(options.headers ?? {});
  const staticHeaders = Object.entries(options.headers ?? {}).map(([name, value]): [string, string] => [
    name.toLowerCase(),
    value,
  ]);

  const raisedLimit = new WeakSet<AbortSignal>();
  return async (input, init = {}) => {
    // The SDK transports pass one long-lived AbortSignal to every fetch, and fetch's abort listeners are only
    // dropped when its Requests are garbage-collected: past 1,500 calls Node warns (MaxListenersExceededWarning)
    // into the MCP host's log. The listeners are not leaked, so lift the warning's limit for that signal.
    if (init.signal && !raisedLimit.has(init.signal)) {
      setMaxListeners(0, init.signal);
      raisedLimit.add(init.signal);
    }
    const wait = { ms: options.signInWaitMs ?? DEFAULTS.signInWaitMs, signal: init.signal ?? undefined };
    let operation: string | undefined;
    for (let attempt = 0; ; attempt++) {
      // A plain record, not a Headers object: built on every call, and passed to undici as it is.
      const headers = headerRecord(init.headers);
      for (const [name, value] of staticHeaders) headers[name] = value;
      const token = auth ? await auth.getAccessToken() : undefined;
      if (token) headers.authorization = `Bearer ${token}`;
      // `dispatcher` is undici's extension of RequestInit (Node's fetch is undici's).
      const request: RequestInit = dispatcher
        ? Object.assign({ ...init, headers }, { dispatcher })
        : { ...init, headers };
      const response = await baseFetch(input, request);
      const wwwAuthenticate = response.headers.get("www-authenticate");
      if (!auth || !isAuthChallenge(response.status, wwwAuthenticate)) {
        // A replayed request that got through: its step-up budget starts again.
        if (attempt > 0 && response.ok) auth?.accepted?.(operation);
        return response;
      }
      operation ??= operationOf(init);
      await discardBody(response);
      const outcome = await answerChallenge(
        auth,
        { status: response.status, wwwAuthenticate, usedToken: token, operation },
        attempt,
        wait,
      );
      if (outcome.action !== "retry") throw outcome.error;
    }
  };
}

/** "method:name" of a JSON-RPC request body, for per-operation step-up limits; undefined when not JSON-RPC. */
export function operationOf(init: RequestInit): string | undefined {
  if (typeof init.body !== "string" || init.body.length > 65_536) return undefined;
  try {
    const message = JSON.parse(init.body) as { method?: unknown; params?: { name?: unknown; uri?: unknown } };
    if (typeof message.method !== "string") return undefined;
    const target = message.params?.name ?? message.params?.uri;
    return typeof target === "string" ? `${message.method}:${target}` : message.method;
  } catch {
    return undefined;
  }
}
