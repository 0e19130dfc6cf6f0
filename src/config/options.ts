import type { StoreKey } from "../store/record-cipher.ts";
import { DEFAULTS } from "./defaults.ts";

/**
 * Normalised options, after flags > env > defaults have been merged by the CLI (src/cli/args.ts).
 * Everything downstream takes these shapes, never raw argv or process.env.
 */
export interface UpstreamOptions {
  /** The upstream MCP server URL as given (canonicalised by the auth core). */
  url: string;
  /** Pre-registered client credentials (--client-id/--client-secret). */
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  /** Client ID Metadata Document URL (--client-metadata-url), used when the AS supports CIMD. */
  clientMetadataUrl?: string | undefined;
  /** Explicit scope to request (--scope); otherwise the spec's selection order. */
  scope?: string | undefined;
  /** Extra authorization request parameters (--authorize-param k=v). */
  authorizeParams: Record<string, string>;
  /** Static headers for every upstream request (--header "Name: value"). An Authorization header replaces OAuth. */
  headers: Record<string, string>;
  /** Send the RFC 8707 `resource` parameter (default true; --no-resource for ASes that reject it). */
  sendResource: boolean;
  /**
   * Send the OpenID Connect ID token as the bearer instead of the access token (--use-id-token), for servers that
   * validate one (AWS Cognito, Bedrock AgentCore). Sign-ins then ask for the `openid` scope too.
   */
  useIdToken?: boolean | undefined;
  /**
   * Sign in even when the authorization server metadata does not list `code_challenge_methods_supported`
   * (--allow-pkce-unverified). Dangerous: PKCE S256 is still sent, but nothing shows the server enforces it.
   */
  allowPkceUnverified?: boolean | undefined;
  /**
   * The one issuer accepted from authorization server metadata that names another than the URL it was fetched for
   * (--accept-issuer, config `oauth.acceptIssuer`), for servers whose operator publishes a wrong one (RFC 8414 §3.3).
   */
  acceptIssuer?: string | undefined;
}

export interface RuntimeOptions {
  /** Token directory (--auth-dir, MCP_AUTH_DIR, default ~/.mcp/auth). */
  authDir: string;
  /**
   * The token store (--store, MCP_PROXY_STORE): a redis://… or postgres://… URL for a store shared by replicas, or
   * undefined for the file store in `authDir`. May carry a password: never print it (redactStoreUrl).
   */
  storeUrl?: string | undefined;
  /** A shared store's lease, ms (--store-lease, MCP_PROXY_STORE_LEASE; default DEFAULTS.storeLeaseMs). */
  storeLeaseMs?: number | undefined;
  /** Loopback port of the OAuth callback (and of the HTTP face): --port, OAUTH_CALLBACK_PORT, default 8000. */
  port: number;
  /**
   * Host in the redirect URI (--callback-host, default DEFAULT_CALLBACK_HOST). "localhost" makes the callback bind
   * both 127.0.0.1 and ::1, and refuse to start when another process holds either.
   */
  callbackHost: string;
  /**
   * The proxy's public base URL (`serve --public-url`, or learnt from a trusted front), without a trailing slash:
   * the redirect URI is `<publicUrl>/oauth/callback` for the face's sign-ins. A changed one registers a dynamic
   * client anew.
   */
  publicUrl?: string | undefined;
  /** Open the browser (false with --no-browser: only print the URL). */
  openBrowser: boolean;
  /**
   * "device" (--device): sign in with the RFC 8628 device flow. "auto" (default): the browser flow, or the device
   * flow when the AS offers it and the browser flow cannot work here (src/auth/sign-in-method.ts).
   */
  signInMethod?: "auto" | "device" | undefined;
  /**
   * Whether a browser can be opened on this machine (the app layer decides: BROWSER, a display, an opener on PATH).
   * Undefined: assume so.
   */
  browserAvailable?: boolean | undefined;
  /** --debug: debug logs to stderr and to a 0600 <hash>_debug.log. */
  debug: boolean;
  /** Allow http:// (non-loopback) OAuth and upstream URLs. Dangerous; for tests against mock servers. */
  allowInsecureHttp: boolean;
  /**
   * The store's encryption key (--store-key-file, MCP_PROXY_STORE_KEY, MCP_PROXY_STORE_KEY_FILE): records are
   * sealed with it. Undefined: written as plaintext, and encrypted records cannot be read.
   */
  storeKey?: StoreKey | undefined;
}

// Defined in the one table of defaults (defaults.ts); named here for the modules that import them from options.
export const DEFAULT_PORT = DEFAULTS.port;
export const DEFAULT_CALLBACK_HOST = DEFAULTS.callbackHost;
export const CALLBACK_PATH = DEFAULTS.callbackPath;
export const SIGN_IN_TIMEOUT_MS = DEFAULTS.signInTimeoutMs;
export const REFRESH_SKEW_MS = DEFAULTS.refreshSkewMs;
export const STALE_CLIENT_WAIT_MS = DEFAULTS.staleClientWaitMs;
