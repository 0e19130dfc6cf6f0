import { signInPresenter } from "./app/context.ts";
import type { AuthStatus, CallbackResult } from "./auth/auth-client.ts";
import { UpstreamAuth } from "./auth/upstream-auth.ts";
import { defaultAuthDir } from "./config/defaults.ts";
import { DEFAULT_CALLBACK_HOST, DEFAULT_PORT, type RuntimeOptions, type UpstreamOptions } from "./config/options.ts";
import { ProxyError } from "./lib/errors.ts";
import type { Logger } from "./lib/logger.ts";
import { createStore } from "./store/create-store.ts";
import { SealedTokenStore } from "./store/sealed-store.ts";
import type { TokenStore } from "./store/token-store.ts";

export interface OAuthManagerOptions extends Partial<Omit<UpstreamOptions, "url">>, Partial<RuntimeOptions> {
  /** The MCP server URL. */
  url: string;
  /**
   * Another store backend (default: files in authDir). With `storeKey` (a StoreKey from parseStoreKey), records
   * are encrypted at rest in whichever backend.
   */
  store?: TokenStore;
  logger?: Logger;
  /**
   * "own-listener" (default): signIn() runs a loopback listener on `port` for the callback.
   * "external": your server routes `/oauth/callback` to exchangeCode().
   */
  callback?: "own-listener" | "external";
}

/**
 * The programmatic API, named after the original design's OAuthManager: start a sign-in, exchange the code,
 * refresh, get a valid access token, clear. Client registration happens inside the sign-in (pre-registered,
 * Client ID Metadata Document or dynamic, in that order).
 */
export class OAuthManager {
  readonly auth: UpstreamAuth;

  constructor(options: OAuthManagerOptions) {
    const runtime: RuntimeOptions = {
      authDir: options.authDir ?? defaultAuthDir(),
      port: options.port ?? DEFAULT_PORT,
      callbackHost: options.callbackHost ?? DEFAULT_CALLBACK_HOST,
      openBrowser: options.openBrowser ?? true,
      debug: options.debug ?? false,
      allowInsecureHttp: options.allowInsecureHttp ?? false,
    };
    const upstream: UpstreamOptions = {
      url: options.url,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      clientMetadataUrl: options.clientMetadataUrl,
      scope: options.scope,
      authorizeParams: options.authorizeParams ?? {},
      headers: options.headers ?? {},
      sendResource: options.sendResource ?? true,
      useIdToken: options.useIdToken === true,
    };
    this.auth = new UpstreamAuth(upstream, runtime, {
      store:
        options.store && !options.storeKey
          ? options.store
          : new SealedTokenStore(options.store ?? createStore({ backend: "file", dir: runtime.authDir }), {
              key: options.storeKey,
            }),
      callback: options.callback ?? "own-listener",
      ...(options.logger ? { logger: options.logger } : {}),
      ...signInPresenter(options.logger),
    });
  }

  /** Starts a sign-in and returns the authorization URL (opened in the browser unless openBrowser is false). */
  async startAuthFlow(): Promise<{ authorizationUrl: string; completed: Promise<void> }> {
    const handle = await this.auth.startSignIn();
    return { authorizationUrl: handle.url, completed: handle.completed };
  }

  /** Completes the sign-in with the callback's query (`code`, `state`, `iss`, or `error`). */
  exchangeCode(query: URLSearchParams | string): Promise<CallbackResult> {
    return this.auth.handleCallback(typeof query === "string" ? new URLSearchParams(query) : query);
  }

  /** Interactive sign-in (browser + loopback callback); resolves when tokens are stored. */
  signIn(options: { force?: boolean } = {}): Promise<void> {
    return this.auth.signIn(options);
  }

  refresh(): Promise<void> {
    return this.auth.refresh();
  }

  /** A valid access token, refreshed when about to expire. Throws SIGN_IN_REQUIRED when there is none. */
  async getValidAccessToken(): Promise<string> {
    const token = await this.auth.getAccessToken();
    if (!token) {
      throw new ProxyError("SIGN_IN_REQUIRED", `Not signed in to ${this.auth.serverUrl}.`, {
        hint: "Call signIn() (or run `mcp-u2m-proxy auth <url>`).",
      });
    }
    return token;
  }

  status(): Promise<AuthStatus> {
    return this.auth.status();
  }

  /** Revokes (RFC 7009, when supported) and deletes the stored credentials. */
  clear(): Promise<{ revoked: boolean }> {
    return this.auth.clear();
  }

  close(): Promise<void> {
    return this.auth.close();
  }
}
