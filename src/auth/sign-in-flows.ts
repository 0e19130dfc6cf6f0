import { type Logger, silentLogger } from "../lib/logger.ts";
import type { TokensRecord } from "../store/token-store.ts";
import type { CallbackResult, SignInHandle } from "./auth-client.ts";
import { BrowserFlows } from "./browser-flows.ts";
import { DeviceFlows } from "./device-flows.ts";
import { toProxyError } from "./oauth-errors.ts";
import { PendingBrowserFlows } from "./pending-browser-flows.ts";
import { scopeCovers, scopeUnion } from "./scopes.ts";
import type { SignInFlowsParts, SignInOptions } from "./sign-in-parts.ts";

interface StartWaiter {
  scope: string | undefined;
  resolve: (handle: SignInHandle) => void;
}

/**
 * The sign-ins of one upstream in this process: the one pending now (joined by sign-ins that ask for no more
 * scope, superseded by one that asks for more), one start at a time, and whoever waits for a sign-in to be shown.
 * The flows themselves are browser flows (browser-flows.ts, waiting in pending-browser-flows.ts for their
 * callback) or device flows (device-flows.ts).
 */
export class SignInFlows {
  private readonly devices: DeviceFlows;
  private readonly pendingBrowser: PendingBrowserFlows;
  private readonly browser: BrowserFlows;
  private current: SignInHandle | undefined;
  private currentScope: string | undefined;
  private readonly startedWaiters = new Set<StartWaiter>();
  /** The start in progress (discovery, registration, authorization URL), which later starts wait for. */
  private starting: Promise<SignInHandle> | undefined;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly parts: SignInFlowsParts) {
    this.now = parts.now ?? Date.now;
    this.log = parts.log ?? silentLogger;
    this.pendingBrowser = new PendingBrowserFlows(parts, {
      log: this.log,
      announce: (handle, scope) => this.announce(handle, scope),
      released: (url) => {
        if (this.current?.url === url) this.current = undefined;
      },
      restart: (options) => this.begin(options),
      handleCallback: (query) => this.browser.handleCallback(query),
    });
    this.browser = new BrowserFlows(parts, this.pendingBrowser, { now: this.now, log: this.log });
    this.devices = new DeviceFlows(parts, {
      now: this.now,
      log: this.log,
      announce: (handle, scope) => this.announce(handle, scope),
      ended: (handle) => {
        if (this.current === handle) this.current = undefined;
        parts.onChange();
      },
    });
  }

  /** The sign-in under way, if any. */
  pending(): SignInHandle | undefined {
    return this.current && this.current.expiresAt > this.now() ? this.current : undefined;
  }

  /** Another process stored tokens: a pending sign-in they complete ends here too (PendingBrowserFlows says when). */
  completedElsewhere(tokens: TokensRecord | undefined): void {
    this.pendingBrowser.completedElsewhere(tokens);
  }

  /** Whether `state` belongs to one of these pending sign-ins (the shared callback route asks). */
  owns(state: string): boolean {
    return this.pendingBrowser.has(state);
  }

  /** Whether the sign-in pending now asks for at least `scope`. */
  covers(scope: string | undefined): boolean {
    return this.pending() !== undefined && scopeCovers(this.currentScope, scope);
  }

  /**
   * Resolves with the next sign-in this process shows a URL for that asks for at least `scope` (or the one pending
   * now, if it does). Event-driven: nothing polls. `cancel` stops listening.
   */
  nextStarted(scope?: string): { started: Promise<SignInHandle>; cancel: () => void } {
    const now = this.pending();
    if (now && this.covers(scope)) return { started: Promise.resolve(now), cancel: () => {} };
    let waiter!: StartWaiter;
    const started = new Promise<SignInHandle>((resolve) => {
      waiter = { scope, resolve };
      this.startedWaiters.add(waiter);
    });
    return { started, cancel: () => this.startedWaiters.delete(waiter) };
  }

  /**
   * Starts a sign-in, or joins the one pending when it asks for at least this scope. A pending one with less scope
   * (a step-up arrived meanwhile) is superseded: a new flow asks for the union, and whoever waits for the old one
   * gets the new one's outcome.
   */
  async start(options: SignInOptions = {}): Promise<SignInHandle> {
    // One start at a time: a flow is pending only once discovery and registration are done, so two starts at once
    // (the start-up sign-in and the page's button) would each register a client and show its own URL.
    while (this.starting) await this.starting.catch(() => {});
    const run = this.startNow(options);
    this.starting = run;
    try {
      return await run;
    } finally {
      if (this.starting === run) this.starting = undefined;
    }
  }

  private async startNow(options: SignInOptions): Promise<SignInHandle> {
    const pending = this.pending();
    if (pending && scopeCovers(this.currentScope, options.scope)) return pending;
    const device = this.devices.entryOf(pending);
    if (device) {
      const scope = scopeUnion(this.currentScope, options.scope);
      this.log.info(`A step-up for ${this.parts.serverUrl} needs more scope; restarting the sign-in for ${scope}.`);
      this.devices.end(device);
      const next = await this.begin({ ...device.options, ...options, scope });
      next.completed.then(
        () => device.settle(),
        (error: unknown) => device.settle(toProxyError(error, this.parts.serverUrl)),
      );
      return next;
    }
    if (pending) {
      const superseded = this.pendingBrowser.entryOf(pending);
      const scope = scopeUnion(this.currentScope, options.scope);
      this.log.info(`A step-up for ${this.parts.serverUrl} needs more scope; restarting the sign-in for ${scope}.`);
      if (superseded) this.pendingBrowser.detachEntry(superseded);
      const next = await this.begin({ ...(superseded?.options ?? {}), ...options, scope });
      if (superseded) this.pendingBrowser.chain(superseded, next);
      return next;
    }
    return this.begin(options);
  }

  private async begin(options: SignInOptions): Promise<SignInHandle> {
    const discovery = await this.devices.discoveryFor(options);
    if (discovery) return this.devices.begin(options, discovery);
    return this.browser.begin(options);
  }

  /** The sign-in pending now: whoever waits for one that covers their scope learns of it. */
  private announce(handle: SignInHandle, scope: string | undefined): void {
    this.current = handle;
    this.currentScope = scope;
    this.parts.onChange();
    for (const waiter of this.startedWaiters) {
      if (!scopeCovers(scope, waiter.scope)) continue;
      this.startedWaiters.delete(waiter);
      waiter.resolve(handle);
    }
  }

  /** Completes a sign-in from the authorization server's redirect. Never throws. */
  handleCallback(query: URLSearchParams): Promise<CallbackResult> {
    return this.browser.handleCallback(query);
  }

  /** Abandons every pending sign-in and closes the listener (shutdown). */
  async close(): Promise<void> {
    this.devices.close();
    await this.pendingBrowser.close();
  }

  /** Whether a callback listener is bound now (tests of the listener's lifetime). */
  get listening(): boolean {
    return this.pendingBrowser.listening;
  }
}
