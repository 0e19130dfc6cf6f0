import type {
  AuthStatus,
  CallbackResult,
  ChallengeOutcome,
  SignInHandle,
  UpstreamChallenge,
} from "../../auth/auth-client.ts";
import { ProxyError } from "../../lib/errors.ts";
import type { FaceAuthClient } from "../http-face.ts";
import { type Caller, currentCaller, principalHash } from "./caller.ts";

/** One user's auth core for one upstream (UpstreamAuth with that user's grant key). */
export interface UserAuth extends FaceAuthClient {
  clear(): Promise<unknown>;
  ownsSignIn(state: string): boolean;
  close(): Promise<void>;
  onRefresh?(listener: (outcome: string) => void): () => void;
}

/** What an admin sees of one user: never a token. */
export interface UserState {
  /** principalHash of the user: names them in URLs and forms without saying who. */
  readonly user: string;
  readonly label: string;
  readonly status: AuthStatus;
}

export interface PerUserAuthOptions {
  serverUrl: string;
  /** Creates the core of one user (their tokens under grantKey(upstream, principal); registration shared). */
  create: (caller: Caller) => UserAuth;
}

/**
 * The auth core the face sees when several people use it: every call acts for the current caller (the identity
 * gate's), on that person's own core, created on their first request. Without a caller (start-up probes,
 * `/healthz`) nobody is signed in and nothing starts. A callback is completed only by the core of the person it
 * comes from: a `state` another user's sign-in issued is refused, never completed for them.
 */
export class PerUserAuth implements FaceAuthClient {
  readonly serverUrl: string;
  private readonly users = new Map<string, { caller: Caller; auth: UserAuth }>();
  private readonly stateListeners = new Set<(status: AuthStatus) => void>();
  private readonly refreshListeners = new Set<(outcome: string) => void>();
  private readonly unsubscribes: (() => void)[] = [];

  constructor(private readonly options: PerUserAuthOptions) {
    this.serverUrl = options.serverUrl;
  }

  /** The core of `caller`, created on first use. */
  authFor(caller: Caller): UserAuth {
    const known = this.users.get(caller.principal);
    if (known) return known.auth;
    const auth = this.options.create(caller);
    this.users.set(caller.principal, { caller, auth });
    this.unsubscribes.push(
      auth.onStateChange((status) => {
        for (const listener of this.stateListeners) listener(status);
      }),
      auth.onRefresh?.((outcome) => {
        for (const listener of this.refreshListeners) listener(outcome);
      }) ?? (() => {}),
    );
    return auth;
  }

  private current(): UserAuth | undefined {
    const caller = currentCaller();
    return caller ? this.authFor(caller) : undefined;
  }

  private required(): UserAuth {
    const auth = this.current();
    if (!auth) {
      throw new ProxyError(
        "SIGN_IN_REQUIRED",
        `Sign-in to ${this.serverUrl} needs a user, and this request names none.`,
        {
          hint: "Reach the proxy through its identity-aware front.",
        },
      );
    }
    return auth;
  }

  async getAccessToken(): Promise<string | undefined> {
    return this.current()?.getAccessToken();
  }

  async onChallenge(challenge: UpstreamChallenge): Promise<ChallengeOutcome> {
    const auth = this.current();
    if (auth) return auth.onChallenge(challenge);
    return { action: "fail", error: new ProxyError("SIGN_IN_REQUIRED", `No user to sign in to ${this.serverUrl}.`) };
  }

  accepted(operation: string | undefined): void {
    this.current()?.accepted?.(operation);
  }

  async startSignIn(options?: { scope?: string; reason?: string; openBrowser?: boolean }): Promise<SignInHandle> {
    return this.required().startSignIn({ ...options, openBrowser: false });
  }

  async handleCallback(query: URLSearchParams): Promise<CallbackResult> {
    const caller = currentCaller();
    const state = query.get("state") ?? "";
    const own = caller ? this.authFor(caller) : undefined;
    if (own && (state === "" || own.ownsSignIn(state) || !this.ownsSignIn(state))) return own.handleCallback(query);
    // The state is another person's pending sign-in (or there is no caller): never complete it for this one.
    return {
      ok: false,
      error: new ProxyError(
        "STATE_MISMATCH",
        "This sign-in was started by another user: it can only be completed in their browser session.",
        { hint: "Start your own sign-in from the proxy's page." },
      ),
    };
  }

  ownsSignIn(state: string): boolean {
    for (const { auth } of this.users.values()) if (auth.ownsSignIn(state)) return true;
    return false;
  }

  pendingSignIn(): SignInHandle | undefined {
    return this.current()?.pendingSignIn();
  }

  async status(): Promise<AuthStatus> {
    const auth = this.current();
    if (auth) return auth.status();
    return { serverUrl: this.serverUrl, signedIn: false, hasRefreshToken: false, scopes: [], storeKey: "" };
  }

  onStateChange(listener: (status: AuthStatus) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  onRefresh(listener: (outcome: string) => void): () => void {
    this.refreshListeners.add(listener);
    return () => this.refreshListeners.delete(listener);
  }

  /** Signs the current caller out (their grant only). */
  clear(): Promise<unknown> {
    return this.required().clear();
  }

  /** Every user this process has seen, with their state (admin view). */
  async userStates(): Promise<UserState[]> {
    return Promise.all(
      [...this.users.values()].map(async ({ caller, auth }) => ({
        user: principalHash(caller.principal),
        label: caller.label,
        status: await auth.status(),
      })),
    );
  }

  /** Revokes and deletes one user's grant (admin), named by principalHash. False when no such user is known. */
  async revokeUser(user: string): Promise<boolean> {
    for (const { caller, auth } of this.users.values()) {
      if (principalHash(caller.principal) === user) {
        await auth.clear();
        return true;
      }
    }
    return false;
  }

  async close(): Promise<void> {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    await Promise.all([...this.users.values()].map(({ auth }) => auth.close()));
  }
}
