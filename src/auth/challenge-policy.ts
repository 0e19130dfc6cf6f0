import { createHash } from "node:crypto";
import { isProxyError, ProxyError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import type { ChallengeOutcome, UpstreamChallenge } from "./auth-client.ts";
import { parseChallenge } from "./challenge.ts";
import { isTransientOAuthError, toProxyError } from "./oauth-errors.ts";
import type { RefreshRequest, RefreshResult } from "./refresher.ts";
import { scopeCovers } from "./scopes.ts";
import { loadSdk } from "./sdk.ts";
import type { TokenKeeper } from "./token-keeper.ts";

/** Step-up sign-ins for one operation and scope before it fails (MCP authorization, "Step-Up Authorization Flow"). */
export const MAX_STEP_UPS = 2;
/** A step-up budget older than this starts again: a scope refused this morning may be granted by now. */
export const STEP_UP_WINDOW_MS = 10 * 60_000;
/** Refused access tokens remembered (as hashes), so none is ever sent again; the oldest is dropped past this. */
const REFUSED_REMEMBERED = 32;

export interface ChallengePolicyParts {
  serverUrl: string;
  keeper: TokenKeeper;
  refresh: (request: RefreshRequest) => Promise<RefreshResult>;
  /**
   * Starts (or joins) the sign-in a request needs, and says how the request goes on: "retry" when tokens are
   * already there, else "sign-in" with the URL and a promise of the sign-in's end. Never waits for the person.
   */
  signInForRequest: (request: { scope?: string | undefined; force?: boolean }) => Promise<ChallengeOutcome>;
  now?: () => number;
  log?: Logger;
}

/**
 * What to do about an upstream's 401 or 403, decided from the tokens held and what the challenge says:
 * - 403 without `insufficient_scope`: an answer, not a challenge: fail.
 * - 403 `insufficient_scope`: a step-up sign-in for the union of the scopes, at most {@link MAX_STEP_UPS} times per
 *   operation and scope within {@link STEP_UP_WINDOW_MS}; a success of the operation resets its budget.
 * - 401: the token sent is refused for good (a breaker: it is never handed out again). Retry when a different,
 *   unrefused token is held (another caller refreshed); else refresh (discovering again: the AS may have moved)
 *   and retry with the new token; a transient AS failure fails the request; anything else needs a sign-in.
 */
export class ChallengePolicy {
  private readonly stepUps = new Map<string, { count: number; since: number }>();
  private readonly refused = new Set<string>();
  private readonly now: () => number;
  private readonly log: Logger;
  /** The resource metadata URL of the upstream's last challenge (discovery starts there). */
  resourceMetadataUrl: string | undefined;
  /** The scope the upstream's last 401 asked for (a sign-in asks for it when nothing else is configured). */
  challengedScope: string | undefined;

  constructor(private readonly parts: ChallengePolicyParts) {
    this.now = parts.now ?? Date.now;
    this.log = parts.log ?? silentLogger;
  }

  /** Whether `token` was refused by the upstream: then it is never sent again. */
  isRefused(token: string | undefined): boolean {
    // On the hot path the set is empty: no hashing until the upstream refuses a token.
    return token !== undefined && this.refused.size > 0 && this.refused.has(fingerprint(token));
  }

  /** The operation succeeded: its step-up budget starts again (a later scope change gets its own step-ups). */
  accepted(operation: string | undefined): void {
    if (this.stepUps.size === 0) return;
    const prefix = `${operation ?? "*"}|`;
    for (const key of this.stepUps.keys()) if (key.startsWith(prefix)) this.stepUps.delete(key);
  }

  async decide(challenge: UpstreamChallenge): Promise<ChallengeOutcome> {
    const params = parseChallenge(challenge.wwwAuthenticate);
    if (params.resourceMetadataUrl) this.resourceMetadataUrl = params.resourceMetadataUrl;
    if (challenge.status === 403) {
      if (params.error === "insufficient_scope") return this.stepUp(challenge, params.scope);
      return {
        action: "fail",
        error: new ProxyError("UPSTREAM_ERROR", `The upstream ${this.parts.serverUrl} refused the request (403).`, {
          hint: "The server refused this request for a reason other than scope; its answer says why.",
          details: { upstream: this.parts.serverUrl, upstreamStatus: 403 },
        }),
      };
    }
    if (params.scope) this.challengedScope = params.scope;
    return this.unauthorized(challenge.usedToken, params.scope);
  }

  private async unauthorized(usedToken: string | undefined, scope: string | undefined): Promise<ChallengeOutcome> {
    const { keeper } = this.parts;
    if (usedToken !== undefined) this.refuse(usedToken);
    await keeper.load();
    await keeper.noticeStoreChange();
    // Another caller (or process) may already hold a new token.
    if (this.usable(keeper.bearerToken) && keeper.bearerToken !== usedToken) return { action: "retry" };

    const held = keeper.current;
    if (held?.tokens.refresh_token) {
      try {
        const result = await this.parts.refresh({ rediscover: true });
        if ((result === "refreshed" || result === "replaced") && this.usable(keeper.bearerToken)) {
          return { action: "retry" };
        }
      } catch (error) {
        const proxyError = toProxyError(error, this.parts.serverUrl);
        // The AS is down or slow: a sign-in would fail the same way, and the refresh token may work later. The
        // same when the token store is (a shared store restarting): the grant is fine, only unreachable for now, and
        // removing it would throw away a good refresh token the moment the store answers again.
        if (isTransientOAuthError(error) || (isProxyError(error) && error.code === "STORE_ERROR")) {
          return { action: "fail", error: proxyError };
        }
        this.log.warn(`Refresh for ${this.parts.serverUrl} failed: ${proxyError.toLine()}`);
      }
    }
    // The tokens held cannot produce an accepted token: only a sign-in helps, and it must not stop at them.
    if (keeper.current && !this.usable(keeper.bearerToken)) await keeper.forget();
    return this.parts.signInForRequest({ scope });
  }

  private async stepUp(challenge: UpstreamChallenge, challengedScope: string | undefined): Promise<ChallengeOutcome> {
    const { keeper, serverUrl } = this.parts;
    await keeper.load();
    const held = keeper.current;
    const previous = held?.requested_scope ?? held?.tokens.scope;
    // Another request stepped up already: the token held now has the scope this one lacked.
    if (
      challengedScope &&
      held &&
      keeper.bearerToken !== challenge.usedToken &&
      this.usable(keeper.bearerToken) &&
      scopeCovers(held.tokens.scope ?? held.requested_scope, challengedScope)
    ) {
      return { action: "retry" };
    }
    const { computeScopeUnion } = await loadSdk();
    const union = computeScopeUnion(previous, challengedScope);
    const key = `${challenge.operation ?? "*"}|${union ?? ""}`;
    const now = this.now();
    const budget = this.stepUps.get(key);
    const entry = budget && now - budget.since < STEP_UP_WINDOW_MS ? budget : { count: 0, since: now };
    entry.count += 1;
    this.stepUps.set(key, entry);
    if (entry.count > MAX_STEP_UPS) {
      return {
        action: "fail",
        error: new ProxyError(
          "INSUFFICIENT_SCOPE",
          `The upstream ${serverUrl} still refuses ${challenge.operation ?? "the request"} after ${MAX_STEP_UPS} step-up sign-ins (scope ${challengedScope ?? "unknown"}).`,
          {
            hint: "Your account may not be allowed this scope; ask the server's administrator.",
            details: { upstream: serverUrl, scope: challengedScope ?? null },
          },
        ),
      };
    }
    this.log.info(`${serverUrl} needs more scope (${challengedScope ?? "unspecified"}); asking for ${union ?? "it"}.`);
    return this.parts.signInForRequest({ scope: union, force: true });
  }

  private usable(token: string | undefined): token is string {
    return token !== undefined && !this.isRefused(token);
  }

  private refuse(token: string): void {
    const print = fingerprint(token);
    this.refused.delete(print);
    this.refused.add(print);
    if (this.refused.size > REFUSED_REMEMBERED) {
      const oldest = this.refused.values().next().value;
      if (oldest !== undefined) this.refused.delete(oldest);
    }
  }
}

/** A refused token is remembered by its hash, so the policy holds no secret of its own. */
function fingerprint(token: string): string {
  return createHash("sha256").update(token).digest("base64url").slice(0, 22);
}
