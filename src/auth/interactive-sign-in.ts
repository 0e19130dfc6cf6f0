// An upstream's interactive sign-in: one at a time, under the store's sign-in lock, and as a request sees it.

import { SIGN_IN_TIMEOUT_MS } from "../config/options.ts";
import { ProxyError } from "../lib/errors.ts";
import type { TokenStore } from "../store/token-store.ts";
import type { ChallengeOutcome } from "./auth-client.ts";
import type { ClientRegistry } from "./client-registry.ts";
import { toProxyError } from "./oauth-errors.ts";
import { scopeUnion } from "./scopes.ts";
import type { SignInFlows } from "./sign-in-flows.ts";
import type { TokenKeeper } from "./token-keeper.ts";
import { isDead } from "./token-lifetime.ts";

/** How long a request that needs a sign-in waits for this process to produce the URL it can name. */
const SIGN_IN_URL_WAIT_MS = 10_000;

export interface InteractiveSignInParts {
  serverUrl: string;
  store: TokenStore;
  keeper: TokenKeeper;
  clients: ClientRegistry;
  flows: SignInFlows;
  /** Whether the upstream refused this token (the challenge policy's breaker): a refused token is no sign-in. */
  isRefused: (token: string | undefined) => boolean;
  now: () => number;
}

/**
 * The sign-in UpstreamAuth runs when tokens are needed: one at a time in the process (a call while one runs joins
 * it, widening its scope first), under the store's sign-in lock across processes, and the answer a request gets
 * while the person signs in.
 */
export class InteractiveSignIn {
  private signingIn: Promise<void> | undefined;
  /** Every scope asked for while the sign-in under way runs (a step-up may widen it). */
  private signInScope: string | undefined;

  constructor(private readonly parts: InteractiveSignInParts) {}

  /**
   * UpstreamAuth.signIn: under the store's sign-in lock, so that several processes for the same upstream open one
   * browser tab (a process that waited uses the winner's tokens); a call while one runs joins it, widening its scope
   * first when it asks for more. Resolves when tokens are stored; rejects with SIGN_IN_TIMEOUT, SIGN_IN_DENIED, ….
   */
  async signIn(options: { force?: boolean; scope?: string; registerAnew?: boolean } = {}): Promise<void> {
    this.signInScope = scopeUnion(this.signInScope, options.scope);
    if (this.signingIn) {
      // A step-up while a sign-in waits in the browser: restart it for the union, its waiters follow the new one.
      if (options.scope && this.parts.flows.pending() && !this.parts.flows.covers(options.scope)) {
        await this.parts.flows.start({ scope: options.scope });
      }
      return this.signingIn;
    }
    this.signingIn = this.signInLocked(options).finally(() => {
      this.signingIn = undefined;
      this.signInScope = undefined;
    });
    return this.signingIn;
  }

  private async signInLocked({ force, registerAnew }: { force?: boolean; registerAnew?: boolean }): Promise<void> {
    await this.parts.keeper.load();
    const before = this.parts.keeper.bearerToken;
    await this.parts.store.withLock(
      this.parts.keeper.key,
      "sign-in",
      async () => {
        // Someone (another process, or a refresh) may have produced tokens while we waited for the lock.
        await this.parts.keeper.reload();
        const held = this.parts.keeper.current;
        const bearer = this.parts.keeper.bearerToken;
        const fresh = held !== undefined && bearer !== before;
        const usable =
          held !== undefined &&
          !isDead(held, this.parts.now(), this.parts.keeper.bearer) &&
          !this.parts.isRefused(bearer);
        if (usable && (!force || fresh)) return;
        // `auth --force`: a dynamic registration the AS may have forgotten is replaced (pre-registered stays).
        if (registerAnew) await this.parts.clients.forget();
        const handle = await this.parts.flows.start(this.signInScope === undefined ? {} : { scope: this.signInScope });
        await handle.completed;
      },
      { waitMs: SIGN_IN_TIMEOUT_MS + 30_000 },
    );
  }

  /**
   * The sign-in a request needs, without waiting for the person: starts it (or joins it), waits only until this
   * process shows its URL (or it ends, or {@link SIGN_IN_URL_WAIT_MS}), and answers "sign-in" naming the URL with a
   * promise of its end, so the caller decides how long the request waits (answerChallenge's budget).
   */
  async forRequest({ scope, force }: { scope?: string | undefined; force?: boolean }): Promise<ChallengeOutcome> {
    const watch = this.parts.flows.nextStarted(scope);
    const signIn = this.signIn({ ...(scope ? { scope } : {}), ...(force ? { force: true } : {}) });
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      signIn.then(
        () => "done" as const,
        (error: unknown) => toProxyError(error, this.parts.serverUrl),
      ),
      watch.started,
      new Promise<"waiting">((resolve) => {
        timer = setTimeout(() => resolve("waiting"), SIGN_IN_URL_WAIT_MS);
      }),
    ]).finally(() => {
      clearTimeout(timer);
      watch.cancel();
    });
    if (first === "done" && !this.parts.isRefused(this.parts.keeper.bearerToken) && this.parts.keeper.current) {
      return { action: "retry" };
    }
    if (first instanceof ProxyError) return { action: "sign-in", error: first };
    const handle = typeof first === "object" ? first : this.parts.flows.pending();
    const url = handle?.url;
    const userCode = handle?.userCode;
    return {
      action: "sign-in",
      completed: signIn,
      error: new ProxyError("SIGN_IN_REQUIRED", `Sign-in to ${this.parts.serverUrl} is required.`, {
        hint: url
          ? `Open ${url} in a browser${userCode ? ` and enter the code ${userCode}` : ""} to sign in, then retry.`
          : `Run \`mcp-u2m-proxy auth ${this.parts.serverUrl}\`, then retry.`,
        details: url ? { signInUrl: url, ...(userCode ? { userCode } : {}) } : {},
      }),
    };
  }
}
