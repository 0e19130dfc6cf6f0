import type { ProxyError } from "../lib/errors.ts";

/**
 * The narrow face of the OAuth core that the relays (HTTP face, stdio bridge, authorized fetch) see.
 * One instance per upstream MCP server. Implemented by UpstreamAuth (upstream-auth.ts).
 */
export interface AuthClient {
  /** Canonical upstream MCP server URL. */
  readonly serverUrl: string;

  /**
   * The access token to put on the next upstream request, from memory (no disk read).
   * Refreshes first, single-flight, when it expires within the clock-skew window.
   * Undefined when not signed in (the request will get a 401 and go through onChallenge).
   */
  getAccessToken(): Promise<string | undefined>;

  /**
   * React to an upstream 401 or 403 for a request sent with `usedToken`.
   * - 401: if another caller already replaced `usedToken`, answers retry at once; else refreshes once
   *   (single-flight, across processes); if that is not possible, starts a sign-in and answers sign-in.
   * - 403 `insufficient_scope`: step-up (new authorization with the union of scopes), bounded retries.
   */
  onChallenge(challenge: UpstreamChallenge): Promise<ChallengeOutcome>;

  /**
   * The upstream accepted a request for `operation` (the `operation` of UpstreamChallenge): its step-up budget
   * starts again. Optional: callers that never step up need not say.
   */
  accepted?(operation: string | undefined): void;

  /** Starts a sign-in, or joins the one under way. Opens the browser per configuration; the URL is always printed. */
  startSignIn(options?: { scope?: string; reason?: string; openBrowser?: boolean }): Promise<SignInHandle>;

  /** Completes a sign-in from the authorization server's redirect (`/oauth/callback?…`). Never throws. */
  handleCallback(query: URLSearchParams): Promise<CallbackResult>;

  /** The sign-in under way, if any. */
  pendingSignIn(): SignInHandle | undefined;

  /** Signed-in state for people and /healthz. No secrets. */
  status(): Promise<AuthStatus>;

  /** Subscribe to sign-in state changes (signed in, signed out, refreshed). Returns an unsubscribe function. */
  onStateChange(listener: (status: AuthStatus) => void): () => void;
}

export interface UpstreamChallenge {
  status: number;
  /** The raw `WWW-Authenticate` header value(s), if any. */
  wwwAuthenticate: string | null | undefined;
  /** The access token the failed request carried. */
  usedToken: string | undefined;
  /** Identifies the operation for step-up retry limits (e.g. "tools/call:search"). */
  operation?: string;
}

export type ChallengeOutcome =
  /** A different token is ready: replay the request once with getAccessToken(). */
  | { action: "retry" }
  /**
   * The user must sign in; a sign-in was started (error.details.signInUrl says where). `completed` settles when it
   * ends (tokens stored, or it failed): a caller that can wait for the person retries then. The core never waits.
   */
  | { action: "sign-in"; error: ProxyError; completed?: Promise<void> | undefined }
  /** Give up on this request (scope refused too often, AS error); the error says why. */
  | { action: "fail"; error: ProxyError };

export interface SignInHandle {
  /** The authorization URL the user must open (a device sign-in: its verification URI, with the code if given). */
  readonly url: string;
  /** A device sign-in's user code, to enter at `url` (RFC 8628). */
  readonly userCode?: string | undefined;
  readonly startedAt: number;
  readonly expiresAt: number;
  /** Settles when the sign-in completes (tokens stored) or fails/times out. */
  readonly completed: Promise<void>;
}

export type CallbackResult =
  | { ok: true; serverUrl: string; account?: string | undefined }
  | { ok: false; error: ProxyError };

export interface AuthStatus {
  serverUrl: string;
  signedIn: boolean;
  /** "id_token" when the ID token is sent upstream instead of the access token (`useIdToken`). */
  bearer?: "id_token" | undefined;
  /** ISO time the bearer (the access token, or the ID token) expires, if known. */
  expiresAt?: string | undefined;
  /** Seconds until expiry (negative when expired). */
  expiresInSeconds?: number | undefined;
  hasRefreshToken: boolean;
  scopes: string[];
  issuer?: string | undefined;
  account?: string | undefined;
  clientId?: string | undefined;
  clientSource?: "pre-registered" | "cimd" | "dynamic" | undefined;
  /**
   * What this proxy does differently for this server's authorization server, from its last discovery: an issuer
   * accepted although it is not the server's URL, and provider defaults (provider-defaults.ts) in effect.
   */
  adjustments?: string[] | undefined;
  /** The authorization URL of a sign-in under way. */
  signInUrl?: string | undefined;
  /** Store key (<hash>) and location, to find the files. */
  storeKey: string;
}
