import type { AuthClient, AuthStatus } from "../auth/auth-client.ts";
import type { AccessLog, AuthEventName } from "../lib/access-log.ts";
import type { UpstreamMetrics } from "../server/metrics.ts";

/**
 * Auth events of one upstream for the metrics and the access log, read from the core's events (state changes,
 * refresh outcomes) rather than from inside it: sign-in started / completed / failed and sign-out from the state
 * the core reports, refreshes from `onRefresh`, challenges where the relays hand them to the core.
 */
export interface TelemetryAuth extends AuthClient {
  /** Outcome of every refresh attempt (UpstreamAuth); a core without it reports no refreshes. */
  onRefresh?(listener: (outcome: string) => void): () => void;
}

/** Refresh outcomes as the `outcome` label spells them. */
const REFRESH_OUTCOMES: Record<string, string> = {
  refreshed: "success",
  replaced: "reused",
  "no-refresh-token": "no_refresh_token",
  "invalid-grant": "invalid_grant",
  "invalid-client": "invalid_client",
  failed: "error",
};

/** Subscribes the metrics and the access log to `auth`'s events. Returns the unsubscribe. */
export function watchAuthTelemetry(
  auth: TelemetryAuth,
  upstream: string,
  metrics: UpstreamMetrics,
  log: AccessLog,
): () => void {
  const report = (event: AuthEventName, outcome?: string) => {
    try {
      log.authEvent({ upstream, event, ...(outcome ? { outcome } : {}) });
    } catch {
      // A log line must never break a sign-in or a refresh.
    }
  };
  let last: { pending: boolean; signedIn: boolean } | undefined;
  const seen = (status: AuthStatus) => {
    const now = { pending: status.signInUrl !== undefined, signedIn: status.signedIn };
    const before = last;
    last = now;
    if (!before) return;
    if (!before.pending && now.pending) report("sign-in-started");
    else if (before.pending && !now.pending) report(now.signedIn ? "sign-in-completed" : "sign-in-failed");
    else if (before.signedIn && !now.signedIn && !now.pending) report("signed-out");
  };
  const unsubscribes = [
    metrics.watchAuth(auth),
    auth.onStateChange(seen),
    auth.onRefresh?.((result) => {
      const outcome = REFRESH_OUTCOMES[result] ?? "error";
      try {
        metrics.tokenRefresh(outcome);
      } catch {
        // Never into the refresh's promise chain.
      }
      report("token-refresh", outcome);
    }) ?? (() => {}),
  ];
  // The state before the first change, so the first change reads as what it is.
  void auth.status().then(
    (status) => {
      last ??= { pending: status.signInUrl !== undefined, signedIn: status.signedIn };
    },
    () => {},
  );
  return () => {
    for (const unsubscribe of unsubscribes) unsubscribe();
  };
}

/**
 * `auth` as the relays see it, counting the challenges they hand to the core (`mcp_proxy_upstream_auth_challenges_total`):
 * the pass-through relay and the message path both answer 401 / 403 insufficient_scope through `onChallenge`.
 */
export function countingChallenges<T extends AuthClient>(auth: T, metrics: UpstreamMetrics): AuthClient {
  return {
    get serverUrl() {
      return auth.serverUrl;
    },
    getAccessToken: () => auth.getAccessToken(),
    onChallenge: (challenge) => {
      metrics.authChallenge(challenge.status);
      return auth.onChallenge(challenge);
    },
    startSignIn: (options) => auth.startSignIn(options),
    handleCallback: (query) => auth.handleCallback(query),
    pendingSignIn: () => auth.pendingSignIn(),
    status: () => auth.status(),
    onStateChange: (listener) => auth.onStateChange(listener),
  };
}
