// What the app layer gives each UpstreamAuth: the store, how sign-ins are shown, and the injected fetch and clock.

import type { Logger } from "../lib/logger.ts";
import type { TokenStore } from "../store/token-store.ts";
import type { FetchLike } from "./authorized-fetch.ts";
import type { SignInPresenter } from "./sign-in-parts.ts";

export interface UpstreamAuthDeps {
  store: TokenStore;
  logger?: Logger;
  /**
   * "own-listener": sign-ins start a short-lived loopback listener on runtime.port (CLI, stdio face).
   * "external": the caller routes `/oauth/callback` to handleCallback() (the HTTP face on the same port).
   */
  callback: "own-listener" | "external";
  /**
   * Opens a validated sign-in URL in a browser, for sign-ins that ask for one (runtime.openBrowser). The app layer
   * passes it (BROWSER or the platform opener); without it nothing is opened.
   */
  openUrl?: ((url: string) => Promise<void>) | undefined;
  /** Shows the sign-in URL to people (the app layer prints it on stderr); without it, an info line in the log. */
  printSignInUrl?: ((url: string, serverUrl: string) => void) | undefined;
  /** Shows a device sign-in's code and verification URI (the app layer prints them on stderr). */
  printDeviceCode?: SignInPresenter["printDeviceCode"];
  /** An interactive terminal the redirected URL can be pasted back into (the CLI's `auth` on a terminal). */
  pasteBack?: SignInPresenter["pasteBack"];
  /** Waits between device-flow polls (tests: a fake clock). */
  sleep?: ((ms: number, signal: AbortSignal) => Promise<void>) | undefined;
  /** fetch for discovery, registration and token requests (default: global fetch). */
  fetch?: FetchLike;
  /** Time limit of each discovery, registration, token and revocation request (default OAUTH_REQUEST_TIMEOUT_MS). */
  oauthRequestTimeoutMs?: number;
  now?: () => number;
  /** How long a sign-in with a stored dynamic client waits for its callback before probing the URL (tests). */
  staleClientWaitMs?: number;
  /** Use this store key instead of deriving it (the CLI's `clear` of a listed entry). */
  storeKey?: string;
  /**
   * The person these tokens belong to when several share the upstream (`serve --identity`): the tokens live under
   * grantKey(upstream key, principal), hashed; registration and discovery stay the upstream's, shared.
   */
  principal?: string | undefined;
  /** That person's e-mail or user name, kept with their tokens for display (`list`, `status`); never their id. */
  principalLabel?: string | undefined;
}
