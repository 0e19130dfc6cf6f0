import { createInterface } from "node:readline";
import type { PasteBackTerminal } from "../auth/paste-back.ts";
import { assertSecureUrl } from "../auth/secure-fetch.ts";
import { createUpstreamAuth, type UpstreamAuth, type UpstreamAuthDeps } from "../auth/upstream-auth.ts";
import { DEFAULTS } from "../config/defaults.ts";
import { readEnvironment } from "../config/environment.ts";
import type { RuntimeOptions, UpstreamOptions } from "../config/options.ts";
import { createLogger, type Logger } from "../lib/logger.ts";
import { openUrl } from "../lib/open-url.ts";
import { type Caller, PerUserAuth } from "../server/identity/index.ts";
import { createStore as createTokenStore } from "../store/create-store.ts";
import { SealedTokenStore } from "../store/sealed-store.ts";
import { canonicalServerUrl, storeKey } from "../store/store-key.ts";
import { parseStoreUrl } from "../store/store-url.ts";
import type { TokenStore } from "../store/token-store.ts";

/** What every command needs for one upstream: the store, its auth client and a logger. */
export interface UpstreamContext {
  store: TokenStore;
  /** The upstream's key in the store (its registration, discovery and protocol era live there). */
  storeKey: string;
  /** Undefined when a static `Authorization` header replaces OAuth (--header). */
  auth: UpstreamAuth | undefined;
  logger: Logger;
  upstream: UpstreamOptions;
  runtime: RuntimeOptions;
}

/**
 * Composition root for one upstream. Honours HTTPS_PROXY/HTTP_PROXY/NO_PROXY for every outbound request made
 * through fetch (discovery, registration, tokens, SDK transports).
 */
export async function createUpstreamContext(
  upstream: UpstreamOptions,
  runtime: RuntimeOptions,
  options: {
    callback: UpstreamAuthDeps["callback"];
    logger?: Logger;
    storeKey?: string;
    /** The logger's line format when it is created here (`serve --log-format json`). */
    logFormat?: "text" | "json" | undefined;
    /**
     * The command talks with a person on this terminal (`auth`): when stdin is a terminal and the browser is not
     * opened here, the redirected URL can be pasted back. Never for `stdio`, whose stdin is the MCP channel.
     */
    interactive?: boolean;
  },
): Promise<UpstreamContext> {
  await useEnvProxy();
  assertSecureUrl(upstream.url, runtime.allowInsecureHttp);
  const key = options.storeKey ?? storeKey(canonicalServerUrl(upstream.url), upstream);
  let logger = options.logger;
  const store = createStore(runtime, (message) => logger?.warn(message));
  logger ??= createLogger({
    level: runtime.debug ? "debug" : "info",
    ...(runtime.debug && store.sidecarPath ? { debugFile: store.sidecarPath(key, "debug.log") } : {}),
    ...(options.logFormat ? { format: options.logFormat } : {}),
  });
  const staticAuthorization = Object.keys(upstream.headers).some((name) => name.toLowerCase() === "authorization");
  const auth = staticAuthorization
    ? undefined
    : createUpstreamAuth(upstream, runtime, {
        store,
        logger,
        callback: options.callback,
        storeKey: key,
        ...signInPresenter(logger),
        ...(options.interactive ? { pasteBack: terminalPasteBack() } : {}),
      });
  return { store, storeKey: key, auth, logger, upstream, runtime };
}

/**
 * The auth core of an upstream shared by several people (`serve --identity`): each caller gets a core of their own,
 * on their first request, whose tokens live under their grant key; the registration and discovery stay the
 * upstream's. Their sign-ins never open a browser here and are not printed: each person starts theirs from the page
 * or from the URL in an MCP error, and comes back to `publicUrl()` (else the loopback redirect URI).
 */
export function perUserAuth(
  ctx: UpstreamContext,
  publicUrl: () => string | undefined,
  maxGrants?: number,
): PerUserAuth | undefined {
  const upstreamAuth = ctx.auth;
  if (!upstreamAuth) return undefined;
  const runtime: RuntimeOptions = { ...ctx.runtime, openBrowser: false };
  Object.defineProperty(runtime, "publicUrl", { get: publicUrl, enumerable: true });
  return new PerUserAuth({
    serverUrl: upstreamAuth.serverUrl,
    maxGrants,
    store: { store: ctx.store, storeKey: ctx.storeKey },
    revokeGrant: (key) => upstreamAuth.clearGrant(key),
    create: (caller: Caller) =>
      createUpstreamAuth(ctx.upstream, runtime, {
        store: ctx.store,
        logger: ctx.logger,
        callback: "external",
        storeKey: ctx.storeKey,
        principal: caller.principal,
        // Shown by `list`/`status`: the e-mail or user name only, so an opaque id is never stored in clear.
        principalLabel: caller.email ?? caller.username,
        printSignInUrl: () => {},
      }),
  });
}

/**
 * How a person learns about a sign-in when the proxy runs for them: the URL on stderr (stdout may be the MCP
 * channel), and the browser opened (BROWSER, else the platform's opener, without a shell) when the sign-in asks.
 */
export function signInPresenter(
  logger?: Logger,
): Pick<UpstreamAuthDeps, "printSignInUrl" | "openUrl" | "printDeviceCode"> {
  return {
    printSignInUrl: (url, serverUrl) => {
      process.stderr.write(`\nSign in to ${serverUrl} by opening this URL in a browser:\n\n  ${url}\n\n`);
    },
    printDeviceCode: ({ userCode, verificationUri, verificationUriComplete, expiresAt }, serverUrl) => {
      const minutes = Math.max(1, Math.round((expiresAt - Date.now()) / 60_000));
      const open = verificationUriComplete
        ? `  ${verificationUriComplete}\n\n(or open ${verificationUri} and enter the code ${userCode})`
        : `  ${verificationUri}\n\nand enter the code\n\n  ${userCode}`;
      process.stderr.write(
        `\nSign in to ${serverUrl} in a browser on any device: open\n\n${open}\n\nThe code expires in ${minutes} minute${minutes === 1 ? "" : "s"}; waiting for the sign-in…\n\n`,
      );
    },
    openUrl: (url) =>
      openUrl(url, { browserCommand: readEnvironment().browser }).catch((error: unknown) => {
        logger?.debug(`The browser opener failed: ${error instanceof Error ? error.message : String(error)}`);
        throw error;
      }),
  };
}

/** stdin read line by line when it is a terminal (prompts on stderr); undefined otherwise. */
function terminalPasteBack(): PasteBackTerminal | undefined {
  if (!process.stdin.isTTY) return undefined;
  return {
    say: (text) => void process.stderr.write(`${text}\n`),
    read: (onLine) => {
      // Not readline's own terminal mode: the terminal's line editing and echo work as for any prompt.
      const lines = createInterface({ input: process.stdin, terminal: false, crlfDelay: Number.POSITIVE_INFINITY });
      lines.on("line", onLine);
      return () => {
        lines.close();
        process.stdin.pause(); // or the process would not exit once signed in
      };
    },
  };
}

/**
 * The token store every command uses: the backend, with encryption at rest on top (sealed with runtime.storeKey
 * when one is configured; without one, plaintext records are read and written and encrypted ones are refused with
 * STORE_KEY_MISSING, never mistaken for something else).
 */
export function createStore(runtime: RuntimeOptions, onWarning?: (message: string) => void): SealedTokenStore {
  return new SealedTokenStore(createBackendStore(runtime, onWarning), { key: runtime.storeKey, onWarning });
}

/** Shared stores by URL: every upstream of this process uses one connection (pool) per server. */
const sharedStores = new Map<string, TokenStore>();

/**
 * The backend the options name, records as stored (envelopes unopened; `store status|encrypt|rekey|decrypt` use it
 * alone): the file store in `authDir`, or the shared one at `store` (--store, MCP_PROXY_STORE). A shared store is
 * built once per process and URL; its warnings go to the first caller's logger.
 */
export function createBackendStore(runtime: RuntimeOptions, onWarning?: (message: string) => void): TokenStore {
  if (runtime.storeUrl === undefined) return createTokenStore({ backend: "file", dir: runtime.authDir, onWarning });
  const location = parseStoreUrl(runtime.storeUrl);
  if (location.backend !== "redis" && location.backend !== "postgres") {
    return createTokenStore({ backend: "file", dir: runtime.authDir, onWarning });
  }
  let store = sharedStores.get(location.url);
  if (!store) {
    store = createTokenStore({
      backend: location.backend,
      url: location.url,
      onWarning,
      leaseMs: runtime.storeLeaseMs ?? DEFAULTS.storeLeaseMs,
    });
    sharedStores.set(location.url, store);
  }
  return store;
}

/**
 * Closes every shared store this process opened (the graceful stop of `serve`): each ends its connections once its
 * pending operations are done, and later operations on it fail. Returns their locations (passwords masked).
 */
export async function closeSharedStores(): Promise<string[]> {
  const stores = [...sharedStores.values()];
  sharedStores.clear();
  await Promise.all(stores.map((store) => store.close?.()));
  return stores.map((store) => store.location);
}

let proxyInstalled: Promise<void> | undefined;
/** undici is loaded only when a proxy is configured (it is heavy, and the CLI commands need it for nothing else). */
function useEnvProxy(): Promise<void> {
  if (!readEnvironment().outboundProxy) return Promise.resolve();
  proxyInstalled ??= import("undici").then(({ EnvHttpProxyAgent, setGlobalDispatcher }) => {
    setGlobalDispatcher(new EnvHttpProxyAgent());
  });
  return proxyInstalled;
}
