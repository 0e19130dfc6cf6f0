import { assertSafeBrowserUrl } from "../lib/open-url.ts";
import type { ClientInfoRecord } from "../store/token-store.ts";
import type { FetchLike } from "./authorized-fetch.ts";

/**
 * A dynamic client registration the authorization server no longer knows (an in-memory AS restarted, an admin
 * deleted it): the decisions about registering again. Pre-registered credentials are the user's and a Client ID
 * Metadata Document is not a registration, so only a "dynamic" client is ever registered again, and only once per
 * sign-in: an AS that refuses a client it has just registered is broken, not forgetful.
 */

/** Time limit of the probe of an authorization URL (a GET that follows no redirect). */
export const PROBE_TIMEOUT_MS = 5_000;

export interface RegisterAgainContext {
  /** How the client of this sign-in was obtained (undefined: none stored). */
  source: ClientInfoRecord["source"] | undefined;
  /** The client was registered by this very sign-in: the AS knows it. */
  registeredNow: boolean;
  /** This sign-in already is the retry after a registration was dropped. */
  retried: boolean;
}

/**
 * Whether a sign-in whose client was refused may drop the registration, register again and start over.
 * At the authorization URL, a client registered by this very sign-in cannot have been forgotten (the AS is broken).
 * At the token endpoint the AS accepted the client moments ago (it issued the code), so one that forgot it since,
 * even a fresh registration, is registered again too.
 */
export function mayRegisterAgain(
  { source, registeredNow, retried }: RegisterAgainContext,
  refusedAt: "authorization" | "token",
): boolean {
  if (source !== "dynamic" || retried) return false;
  return refusedAt === "token" || !registeredNow;
}

export type ProbeVerdict =
  /** The AS shows an error page for the URL itself (RFC 6749 §4.1.2.1: unknown client or redirect URI). */
  | { refused: true; status: number }
  /** A login page, a redirect, or no answer: nothing says the client is unknown. */
  | { refused: false; status?: number | undefined };

/**
 * HTTP statuses of an authorization endpoint that refuses the request itself rather than the user: 4xx, except
 * those that say the endpoint is wrong or busy (404, 405, 408, 429), which registering again would not fix.
 */
export function refusesClient(status: number): boolean {
  return status >= 400 && status < 500 && ![404, 405, 408, 429].includes(status);
}

/**
 * Asks the authorization URL what the browser was shown: a GET without cookies that follows no redirect (a working
 * AS answers with its login page or a redirect). Only https or loopback http; any failure counts as "not refused".
 */
export async function probeAuthorizationUrl(
  fetchFn: FetchLike,
  authorizationUrl: string,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<ProbeVerdict> {
  try {
    assertSafeBrowserUrl(authorizationUrl);
    const response = await fetchFn(authorizationUrl, {
      method: "GET",
      redirect: "manual",
      headers: { accept: "text/html" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel().catch(() => {});
    return refusesClient(response.status)
      ? { refused: true, status: response.status }
      : { refused: false, status: response.status };
  } catch {
    return { refused: false };
  }
}

export interface StaleClientWatch {
  /** How long the sign-in may go without a callback before the authorization URL is probed. */
  waitMs: number;
  /** Whether the sign-in is still waiting for its callback. */
  pending(): boolean;
  probe(): Promise<ProbeVerdict>;
  /** The AS refused the URL while the sign-in still waited: register again and restart it. */
  onRefused(verdict: ProbeVerdict & { refused: true }): void;
}

/**
 * After `waitMs` without a callback, probes the authorization URL once and calls onRefused when the AS refuses it.
 * Returns a cancel function (call it when the sign-in settles). The timer never holds the process open.
 */
export function watchForStaleClient(watch: StaleClientWatch): () => void {
  let cancelled = false;
  const timer = setTimeout(() => {
    if (cancelled || !watch.pending()) return;
    void watch.probe().then((verdict) => {
      if (!cancelled && verdict.refused && watch.pending()) watch.onRefused(verdict);
    });
  }, watch.waitMs);
  timer.unref();
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}
