// The browser sign-ins waiting for their callback, by `state`: their timeouts, stale-client watch and listener.

import { SIGN_IN_TIMEOUT_MS, STALE_CLIENT_WAIT_MS } from "../config/options.ts";
import { ProxyError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import type { TokensRecord } from "../store/token-store.ts";
import type { CallbackResult, SignInHandle } from "./auth-client.ts";
import { startCallbackListener } from "./callback-listener.ts";
import type { PendingFlow } from "./flow-provider.ts";
import { LingeringCallbackListener } from "./lingering-callback-listener.ts";
import { toProxyError } from "./oauth-errors.ts";
import { scopeCovers } from "./scopes.ts";
import type { SignInFlowsParts, SignInOptions } from "./sign-in-parts.ts";
import {
  mayRegisterAgain,
  probeAuthorizationUrl,
  type RegisterAgainContext,
  watchForStaleClient,
} from "./stale-client.ts";

/** A sign-in waiting for its callback: how to settle it, and what to stop when it settles or starts over. */
export interface FlowEntry {
  flow: PendingFlow;
  options: SignInOptions;
  settle: (error?: ProxyError) => void;
  /** Stops the sign-in timeout and the stale-client watch without settling (a restart takes over). */
  detach: () => void;
  /** Stops reading pasted URLs (set when paste-back is offered). */
  stopPaste?: () => void;
}

/** What SignInFlows lends the pending set: the log, its one "pending sign-in" slot, restarts, the callback. */
export interface PendingBrowserFlowHooks {
  log: Logger;
  /** This sign-in is the pending one now (requests join it, waiters learn of it). */
  announce: (handle: SignInHandle, scope: string | undefined) => void;
  /** The flow with this authorization URL is pending no more: the slot lets go of it if it holds it. */
  released: (url: string | undefined) => void;
  /** Starts a new sign-in (browser or device, as SignInFlows chooses) after a forgotten registration was dropped. */
  restart: (options: SignInOptions) => Promise<SignInHandle>;
  /** Completes a sign-in from a redirect the loopback listener received. */
  handleCallback: (query: URLSearchParams) => Promise<CallbackResult>;
}

/** The facts about a flow that decide whether its client may be registered again (stale-client.ts). */
export function registerAgainContext(flow: PendingFlow, options: SignInOptions): RegisterAgainContext {
  return { source: flow.clientSource, registeredNow: flow.registeredNow === true, retried: options.retried === true };
}

/**
 * The browser sign-ins of one upstream waiting for their callback, by `state` (single use, expiring): each one's
 * timeout and stale-client watch, how it settles, is superseded or restarts when the AS forgot its client, and the
 * loopback listener they wait on when the process has no HTTP face. BrowserFlows starts and completes them.
 */
export class PendingBrowserFlows {
  private readonly flows = new Map<string, FlowEntry>();
  /** The loopback listener for "own-listener" (lingering-callback-listener.ts); BrowserFlows binds it at a start. */
  readonly listener: LingeringCallbackListener;

  constructor(
    private readonly parts: SignInFlowsParts,
    private readonly hooks: PendingBrowserFlowHooks,
  ) {
    this.listener = new LingeringCallbackListener(() =>
      startCallbackListener(parts.runtime.port, (query) => hooks.handleCallback(query), {
        callbackHost: parts.runtime.callbackHost,
      }),
    );
  }

  get(state: string): FlowEntry | undefined {
    return this.flows.get(state);
  }

  /** Whether `state` belongs to one of these pending sign-ins. */
  has(state: string): boolean {
    return this.flows.has(state);
  }

  /** Puts a flow taken out by its callback back (a restart needs it pending). */
  set(state: string, entry: FlowEntry): void {
    this.flows.set(state, entry);
  }

  /** Takes a flow out without settling it (its callback arrived: single use). */
  delete(state: string): void {
    this.flows.delete(state);
  }

  /**
   * Tokens covering a pending sign-in's scope were stored by another process after it started: its callback reached
   * another replica, which completed it. Done here too: no longer shown as pending, its waiters go on with those
   * tokens, and the sign-in lock it holds is let go (instead of until the sign-in timeout).
   */
  completedElsewhere(tokens: TokensRecord | undefined): void {
    if (!tokens) return;
    for (const entry of [...this.flows.values()]) {
      if (entry.flow.grant === "device" || tokens.obtained_at < entry.flow.startedAt) continue;
      if (!scopeCovers(tokens.requested_scope ?? tokens.tokens.scope, entry.flow.scope)) continue;
      this.hooks.log.debug(`The sign-in to ${this.parts.serverUrl} was completed by another process.`);
      this.finish(entry.flow.state, undefined, entry);
    }
  }

  /** Registers the flow as pending: its timeout, its stale-client watch, its handle. */
  track(flow: PendingFlow, options: SignInOptions, url: string, startedAt: number): SignInHandle {
    const { serverUrl } = this.parts;
    let settle!: (error?: ProxyError) => void;
    const completed = new Promise<void>((resolve, reject) => {
      settle = (error) => (error ? reject(error) : resolve());
    });
    completed.catch(() => {}); // Callers that never await it must not crash the process.
    const timer = setTimeout(() => {
      this.finish(
        flow.state,
        new ProxyError("SIGN_IN_TIMEOUT", `Sign-in to ${serverUrl} was not completed within 5 minutes.`, {
          hint: `Run \`mcp-u2m-proxy auth ${serverUrl}\` to try again.`,
        }),
      );
    }, SIGN_IN_TIMEOUT_MS); // not unref'd: `completed` waits for it; settling the flow (or close()) clears it
    // A stored dynamic client may be unknown to the AS by now: then the browser shows its error page and never
    // comes back. Without a callback after a short wait, the URL is asked what it shows.
    const stopWatch = mayRegisterAgain(registerAgainContext(flow, options), "authorization")
      ? watchForStaleClient({
          waitMs: this.parts.staleClientWaitMs ?? STALE_CLIENT_WAIT_MS,
          pending: () => this.flows.has(flow.state),
          probe: () => probeAuthorizationUrl(this.parts.fetchFn, url),
          onRefused: ({ status }) => void this.registerAgain(flow.state, `the sign-in URL answered HTTP ${status}`),
        })
      : () => {};
    const detach = () => {
      clearTimeout(timer);
      stopWatch();
    };
    const entry: FlowEntry = {
      flow,
      options,
      detach: () => {
        detach();
        entry.stopPaste?.();
      },
      settle: (error) => {
        entry.detach();
        settle(error);
      },
    };
    this.flows.set(flow.state, entry);
    const handle: SignInHandle = { url, startedAt, expiresAt: flow.expiresAt, completed };
    this.hooks.announce(handle, flow.scope);
    return handle;
  }

  /** Abandons every pending browser sign-in and closes the listener (shutdown). */
  async close(): Promise<void> {
    for (const state of [...this.flows.keys()]) {
      this.finish(state, new ProxyError("SIGN_IN_TIMEOUT", "The proxy is shutting down; the sign-in was abandoned."));
    }
    await this.listener.close();
  }

  /**
   * The AS does not know the stored dynamic client of the sign-in `state`: drop the registration and start a new
   * sign-in (registering again, opening the browser again), once. Whoever waits for the first sign-in gets the
   * outcome of the second.
   */
  async registerAgain(state: string, why: string): Promise<void> {
    const entry = this.flows.get(state);
    if (!entry) return;
    this.detachEntry(entry);
    this.hooks.log.warn(
      `The authorization server for ${this.parts.serverUrl} no longer knows this client; registering again and restarting the sign-in (${why}).`,
    );
    try {
      await this.parts.clients.forget();
      // The tab of the first sign-in shows the AS's error: the browser opens the new URL as configured, even for a
      // sign-in that the status page started in its own tab.
      const { openBrowser: _firstTab, ...options } = entry.options;
      this.chain(entry, await this.hooks.restart({ ...options, retried: true }));
    } catch (error) {
      entry.settle(toProxyError(error, this.parts.serverUrl));
      this.parts.onChange();
      void this.closeListenerIfIdle();
    }
  }

  /** The pending sign-in behind this handle, if it is one of these. */
  entryOf(handle: SignInHandle): FlowEntry | undefined {
    for (const entry of this.flows.values()) if (entry.flow.authorizationUrl === handle.url) return entry;
    return undefined;
  }

  /** Takes a flow out of the pending set without settling it: a new flow takes over (its state stops working). */
  detachEntry(entry: FlowEntry): void {
    this.flows.delete(entry.flow.state);
    entry.detach();
    this.hooks.released(entry.flow.authorizationUrl);
  }

  /** Whoever waits for `entry` gets the outcome of `next`. */
  chain(entry: FlowEntry, next: SignInHandle): void {
    next.completed.then(
      () => entry.settle(),
      (error: unknown) => entry.settle(toProxyError(error, this.parts.serverUrl)),
    );
  }

  finish(state: string, error: ProxyError | undefined, entry = this.flows.get(state)): void {
    this.flows.delete(state);
    entry?.settle(error);
    if (entry) this.hooks.released(entry.flow.authorizationUrl);
    this.parts.onChange();
    void this.closeListenerIfIdle();
  }

  async closeListenerIfIdle(): Promise<void> {
    if (this.flows.size === 0) this.listener.closeSoon();
  }

  /** Whether a callback listener is bound now (tests of the listener's lifetime). */
  get listening(): boolean {
    return this.listener.bound;
  }
}
