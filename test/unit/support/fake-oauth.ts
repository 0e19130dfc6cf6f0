// An MCP server's resource metadata and an OAuth authorization server, answering from memory through an injected
// fetch: enough of RFC 9728, 8414, 7591, 6749 and 7009 for UpstreamAuth's decisions, with switches for the failures
// the tests need (a forgotten client, a refused revocation).
import { UpstreamAuth, type UpstreamAuthDeps } from "../../../src/auth/upstream-auth.ts";
import type { RuntimeOptions, UpstreamOptions } from "../../../src/config/options.ts";
import { createLogger } from "../../../src/lib/logger.ts";
import { MemoryTokenStore } from "../../../src/store/memory-store.ts";
import { STORE_VERSION, type TokenStore, type TokensRecord } from "../../../src/store/token-store.ts";

export const MCP_URL = "https://mcp.example.com/mcp";
export const ISSUER = "https://as.example.com";
export const PORT = 8123;
export const REDIRECT_URI = `http://127.0.0.1:${PORT}/oauth/callback`;

export const AS_METADATA = {
  issuer: ISSUER,
  authorization_endpoint: `${ISSUER}/authorize`,
  token_endpoint: `${ISSUER}/token`,
  registration_endpoint: `${ISSUER}/register`,
  revocation_endpoint: `${ISSUER}/revoke`,
  response_types_supported: ["code"],
  grant_types_supported: ["authorization_code", "refresh_token"],
  token_endpoint_auth_methods_supported: ["none"],
  code_challenge_methods_supported: ["S256"],
};

export interface FakeOAuth {
  fetchFn: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** "METHOD origin+path" of every request, in order (never a query or body). */
  requests: string[];
  /** Client ids the AS knows; a test may add one (a registration made earlier) or clear them (a restart). */
  clients: Set<string>;
  /** Registrations succeed but are forgotten at once (an AS that is broken, not merely restarted). */
  forgetsRegistrations: boolean;
  registrations(): number;
  /** Answer every revocation with this status and OAuth error (default: revocation works). */
  refuseRevocation(status: number, error: string): void;
  /** Answer every code exchange with 401 invalid_client (the AS forgot the client after issuing the code). */
  refuseCodeExchange(times: number): void;
  /**
   * Answer the next `times` refresh_token grants with this status and OAuth error (`temporarily_unavailable` 503,
   * `invalid_grant` 400, …); later ones work again. `network` instead of a status: the fetch rejects (a TypeError).
   */
  failRefresh(times: number, status: number | "network", error?: string): void;
  /** Token-endpoint requests per grant type. */
  tokenRequests: Record<string, number>;
  /**
   * With a number, token responses carry an (unsigned) ID token living this many seconds; undefined: none, as
   * from an AS asked without `openid`.
   */
  idTokenSeconds: number | undefined;
}

export function fakeOAuth(): FakeOAuth {
  const requests: string[] = [];
  const clients = new Set<string>();
  let registered = 0;
  let revocation: { status: number; error: string } | undefined;
  let refusedExchanges = 0;
  let refreshFailure: { times: number; status: number | "network"; error: string } | undefined;
  const tokenRequests: Record<string, number> = {};
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const fetchFn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    requests.push(`${method} ${url.origin}${url.pathname}`);
    const form = () => new URLSearchParams(String(init?.body ?? ""));
    if (url.origin === "https://mcp.example.com" && url.pathname.startsWith("/.well-known/oauth-protected-resource")) {
      return json({ resource: MCP_URL, authorization_servers: [ISSUER] });
    }
    if (url.origin !== ISSUER) return new Response("not found", { status: 404 });
    switch (url.pathname) {
      case "/.well-known/oauth-authorization-server":
        return json(AS_METADATA);
      case "/register": {
        const sent = JSON.parse(String(init?.body)) as Record<string, unknown>;
        const clientId = `client-${++registered}`;
        if (!network.forgetsRegistrations) clients.add(clientId);
        return json({ ...sent, client_id: clientId }, 201);
      }
      case "/authorize":
        // What oidc-provider shows for an unknown client: an error page, no redirect back.
        return clients.has(url.searchParams.get("client_id") ?? "")
          ? new Response(null, { status: 303, headers: { location: `${ISSUER}/login` } })
          : new Response("<h1>oops! something went wrong</h1><p>invalid_client</p>", { status: 400 });
      case "/token": {
        const params = form();
        const grant = params.get("grant_type") ?? "";
        tokenRequests[grant] = (tokenRequests[grant] ?? 0) + 1;
        if (grant === "refresh_token" && refreshFailure && refreshFailure.times > 0) {
          refreshFailure.times -= 1;
          if (refreshFailure.status === "network") throw new TypeError("fetch failed");
          return json({ error: refreshFailure.error, error_description: "refused by the test" }, refreshFailure.status);
        }
        const known = clients.has(params.get("client_id") ?? "");
        if (!known || (params.get("grant_type") === "authorization_code" && refusedExchanges-- > 0)) {
          return json({ error: "invalid_client", error_description: "client is invalid" }, 401);
        }
        return json({
          access_token: `at-${params.get("grant_type")}-${requests.length}`,
          token_type: "Bearer",
          expires_in: 3600,
          refresh_token: `rt-${requests.length}`,
          ...(network.idTokenSeconds === undefined
            ? {}
            : { id_token: fakeIdToken(`id-${params.get("grant_type")}-${requests.length}`, network.idTokenSeconds) }),
        });
      }
      case "/revoke":
        if (revocation)
          return json({ error: revocation.error, error_description: "revocation is unavailable" }, revocation.status);
        return new Response(null, { status: 200 });
      default:
        return new Response("not found", { status: 404 });
    }
  };
  const network: FakeOAuth = {
    fetchFn,
    requests,
    clients,
    forgetsRegistrations: false,
    registrations: () => registered,
    refuseRevocation: (status, error) => {
      revocation = { status, error };
    },
    refuseCodeExchange: (times) => {
      refusedExchanges = times;
    },
    failRefresh: (times, status, error = "server_error") => {
      refreshFailure = { times, status, error };
    },
    tokenRequests,
    idTokenSeconds: undefined,
  };
  return network;
}

/** An unsigned JWT naming `jti`, expiring `seconds` from now (the proxy reads an ID token's exp, never verifies it). */
export function fakeIdToken(jti: string, seconds: number): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none" })}.${part({ jti, sub: "alice", exp: Math.floor(Date.now() / 1000) + seconds })}.`;
}

export const RUNTIME: RuntimeOptions = {
  authDir: "memory",
  port: PORT,
  callbackHost: "127.0.0.1",
  openBrowser: true,
  debug: false,
  allowInsecureHttp: false,
};

export function upstreamOf(extra: Partial<UpstreamOptions> = {}): UpstreamOptions {
  return { url: MCP_URL, authorizeParams: {}, headers: {}, sendResource: true, ...extra };
}

export interface Harness {
  auth: UpstreamAuth;
  store: TokenStore;
  network: FakeOAuth;
  /** Authorization URLs in the order they were printed. */
  printed: string[];
  opened: string[];
  warnings: string[];
}

const open: UpstreamAuth[] = [];

/** Ends every harness's sign-ins and listeners (an `after` hook: a failed test must not leave a timer behind). */
export async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((auth) => auth.close()));
}

export function harness(
  options: {
    upstream?: Partial<UpstreamOptions>;
    store?: TokenStore;
    network?: FakeOAuth;
    deps?: Partial<UpstreamAuthDeps>;
  } = {},
): Harness {
  const network = options.network ?? fakeOAuth();
  const store = options.store ?? new MemoryTokenStore();
  const printed: string[] = [];
  const opened: string[] = [];
  const warnings: string[] = [];
  const auth = new UpstreamAuth(upstreamOf(options.upstream), RUNTIME, {
    store,
    callback: "external",
    fetch: network.fetchFn,
    logger: createLogger({ level: "warn", write: (line) => void warnings.push(line) }),
    printSignInUrl: (url) => void printed.push(url),
    openUrl: async (url) => void opened.push(url),
    ...options.deps,
  });
  open.push(auth);
  return { auth, store, network, printed, opened, warnings };
}

/**
 * An UpstreamAuth that takes its own callback listener, on a real loopback port (`port` 0: whichever is free), as the
 * CLI and the stdio face do. Closed by closeAll.
 */
export function ownListenerAuth(fetchFn: FakeOAuth["fetchFn"], port = 0): UpstreamAuth {
  const auth = new UpstreamAuth(
    upstreamOf(),
    { ...RUNTIME, port },
    { store: new MemoryTokenStore(), callback: "own-listener", fetch: fetchFn, printSignInUrl: () => {} },
  );
  open.push(auth);
  return auth;
}

/** `network`'s fetch, except that the authorization server's metadata answers 500: a sign-in fails to start. */
export function discoveryDown(network: FakeOAuth): FakeOAuth["fetchFn"] {
  return async (input, init) =>
    String(input instanceof Request ? input.url : input).startsWith(`${ISSUER}/.well-known/`)
      ? new Response("down", { status: 500 })
      : network.fetchFn(input, init);
}

/** Records as a past sign-in with a dynamic client left them: registration, discovery and (optionally) tokens. */
export async function seedSignedIn(
  h: Harness,
  {
    clientId = "client-old",
    source = "dynamic",
    tokens = true,
    expiresAt = Date.now() + 3_600_000,
  }: {
    clientId?: string;
    source?: "dynamic" | "pre-registered";
    tokens?: boolean;
    expiresAt?: number;
  } = {},
): Promise<void> {
  const key = h.auth.storeKey;
  await h.store.write(key, "client_info", {
    version: STORE_VERSION,
    server_url: MCP_URL,
    issuer: ISSUER,
    source,
    redirect_uri: REDIRECT_URI,
    client: { client_id: clientId, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" },
  });
  await h.store.write(key, "discovery", {
    version: STORE_VERSION,
    server_url: MCP_URL,
    state: {
      authorizationServerUrl: ISSUER,
      resourceMetadata: { resource: MCP_URL, authorization_servers: [ISSUER] },
      authorizationServerMetadata: AS_METADATA,
    },
    discovered_at: Date.now(),
  });
  if (tokens) await h.store.write(key, "tokens", tokensRecord("at-seeded", expiresAt));
}

export function tokensRecord(accessToken: string, expiresAt: number): TokensRecord {
  return {
    version: STORE_VERSION,
    server_url: MCP_URL,
    issuer: ISSUER,
    tokens: { access_token: accessToken, token_type: "Bearer", refresh_token: `rt-for-${accessToken}` },
    obtained_at: expiresAt - 3_600_000,
    expires_at: expiresAt,
  };
}

/** Completes the sign-in at `url` as the AS would redirect back after a login: a code for its state. */
export function callbackFor(url: string, code = "code-1"): URLSearchParams {
  return new URLSearchParams({ code, state: new URL(url).searchParams.get("state") ?? "" });
}

/**
 * Resolves after every timer of `ms` or less that is already set has fired (timers fire in expiry order, creation
 * order for equal ones): "the watch would have probed by now", without guessing at durations.
 */
export function afterTimersOf(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The probes (GETs of the authorization endpoint) the AS has seen. */
export function probes(network: FakeOAuth): number {
  return network.requests.filter((r) => r === "GET https://as.example.com/authorize").length;
}

/** Resolves once `predicate` holds (checked every few milliseconds); rejects after 10 s so a failure ends. */
export async function until(predicate: () => boolean, what = "the expected state"): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
