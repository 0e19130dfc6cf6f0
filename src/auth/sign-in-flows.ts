import type { OAuthDiscoveryState } from "@modelcontextprotocol/client";
import { CALLBACK_PATH, type RuntimeOptions, SIGN_IN_TIMEOUT_MS, STALE_CLIENT_WAIT_MS } from "../config/options.ts";
import { ProxyError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { assertSafeBrowserUrl } from "../lib/open-url.ts";
import type { TokensRecord } from "../store/token-store.ts";
import type { CallbackResult, SignInHandle } from "./auth-client.ts";
import type { FetchLike } from "./authorized-fetch.ts";
import { startCallbackListener } from "./callback-listener.ts";
import type { ClientRegistry } from "./client-registry.ts";
import type { DevicePrompt } from "./device-authorization.ts";
import { DeviceFlows } from "./device-flows.ts";
import { type FlowHost, FlowProvider, type PendingFlow } from "./flow-provider.ts";
import { LingeringCallbackListener } from "./lingering-callback-listener.ts";
import { toProxyError } from "./oauth-errors.ts";
import { offerPasteBack, type PasteBackTerminal } from "./paste-back.ts";
import { scopeCovers, scopeUnion } from "./scopes.ts";
import { loadSdk } from "./sdk.ts";
import type { SharedSignIns } from "./shared-sign-ins.ts";
import { exchangeCallback } from "./sign-in-callback.ts";
import { newSignInState } from "./sign-in-state.ts";
import {
  mayRegisterAgain,
  probeAuthorizationUrl,
  type RegisterAgainContext,
  watchForStaleClient,
} from "./stale-client.ts";

export interface SignInOptions {
  scope?: string | undefined;
  reason?: string;
  /** Open the browser for this sign-in (default: the runtime's openBrowser). */
  openBrowser?: boolean;
  /** This sign-in is the retry after a forgotten registration was dropped. */
  retried?: boolean;
}

/** How people learn about a sign-in: the app layer prints the URL and opens the browser as it sees fit. */
export interface SignInPresenter {
  /** Shows the URL to the person signing in (the CLI prints it on stderr). */
  printSignInUrl?: ((url: string, serverUrl: string) => void) | undefined;
  /** Opens a validated URL in a browser (called only when the sign-in asks for a browser). */
  openUrl?: ((url: string) => Promise<void>) | undefined;
  /** Shows a device sign-in's code and verification URI (the CLI prints them on stderr). */
  printDeviceCode?: ((prompt: DevicePrompt, serverUrl: string) => void) | undefined;
  /**
   * An interactive terminal to paste the redirected URL back into, when the browser is not opened here (the CLI's
   * `auth` on a terminal). Without it, only the loopback listener completes a browser sign-in.
   */
  pasteBack?: PasteBackTerminal | undefined;
}

export interface SignInFlowsParts extends SignInPresenter {
  serverUrl: string;
  runtime: Pick<
    RuntimeOptions,
    "port" | "callbackHost" | "openBrowser" | "signInMethod" | "browserAvailable" | "publicUrl"
  >;
  /** "own-listener": a short-lived loopback listener on runtime.port; "external": the face routes the callback. */
  callback: "own-listener" | "external";
  clients: ClientRegistry;
  fetchFn: FetchLike;
  /** The storage side of a flow (client, tokens, discovery), bound to a flow's redirect URI and scope. */
  flowHost: (flow: PendingFlow) => FlowHost;
  /** The scope a sign-in asks for when the caller names none (configured, else what the upstream challenged). */
  defaultScope: () => string | undefined;
  resourceMetadataUrl: () => string | undefined;
  /** Discovery now (resource and authorization server metadata), to learn whether the AS offers the device flow. */
  discover: () => Promise<OAuthDiscoveryState>;
  /** Waits between device-flow polls (tests: a fake clock). */
  sleep?: ((ms: number, signal: AbortSignal) => Promise<void>) | undefined;
  /** The account the new tokens belong to, for the log line. */
  account: () => string | undefined;
  onChange: () => void;
  now?: () => number;
  log?: Logger;
  staleClientWaitMs?: number | undefined;
  /**
   * Where pending browser sign-ins are also kept when replicas share a store, so a callback reaching another
   * replica completes, and a state is used once across all of them. Without it they live in this process only.
   */
  shared?: SharedSignIns | undefined;
  /** The upstream's store key: its tag starts every state, so a shared callback route finds the upstream. */
  upstreamKey: string;
}

interface StartWaiter {
  scope: string | undefined;
  resolve: (handle: SignInHandle) => void;
}

/** A sign-in waiting for its callback: how to settle it, and what to stop when it settles or starts over. */
interface FlowEntry {
  flow: PendingFlow;
  options: SignInOptions;
  settle: (error?: ProxyError) => void;
  /** Stops the sign-in timeout and the stale-client watch without settling (a restart takes over). */
  detach: () => void;
  /** Stops reading pasted URLs (set when paste-back is offered). */
  stopPaste?: () => void;
}

/**
 * The sign-ins of one upstream in this process: pending flows by `state` (single use, expiring), the callback
 * listener when the process has no HTTP face, the authorization URL shown once per flow, the exchange of the code
 * (with the `iss` check first), and the restart of a flow whose stored client the AS forgot or whose scope a
 * step-up widened.
 */
export class SignInFlows {
  private readonly flows = new Map<string, FlowEntry>();
  private readonly devices: DeviceFlows;
  private current: SignInHandle | undefined;
  private currentScope: string | undefined;
  /** The loopback listener for "own-listener" (lingering-callback-listener.ts). */
  private readonly listener: LingeringCallbackListener;
  private readonly startedWaiters = new Set<StartWaiter>();
  /** The start in progress (discovery, registration, authorization URL), which later starts wait for. */
  private starting: Promise<SignInHandle> | undefined;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly parts: SignInFlowsParts) {
    this.now = parts.now ?? Date.now;
    this.log = parts.log ?? silentLogger;
    this.listener = new LingeringCallbackListener(() =>
      startCallbackListener(parts.runtime.port, (query) => this.handleCallback(query), {
        callbackHost: parts.runtime.callbackHost,
      }),
    );
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
      this.log.debug(`The sign-in to ${this.parts.serverUrl} was completed by another process.`);
      this.finish(entry.flow.state, undefined, entry);
    }
  }

  /** Whether `state` belongs to one of these pending sign-ins (the shared callback route asks). */
  owns(state: string): boolean {
    return this.flows.has(state);
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
      const superseded = this.entryOf(pending);
      const scope = scopeUnion(this.currentScope, options.scope);
      this.log.info(`A step-up for ${this.parts.serverUrl} needs more scope; restarting the sign-in for ${scope}.`);
      if (superseded) this.detachEntry(superseded);
      const next = await this.begin({ ...(superseded?.options ?? {}), ...options, scope });
      if (superseded) this.chain(superseded, next);
      return next;
    }
    return this.begin(options);
  }

  private async begin(options: SignInOptions): Promise<SignInHandle> {
    const { serverUrl, runtime } = this.parts;
    const discovery = await this.devices.discoveryFor(options);
    if (discovery) return this.devices.begin(options, discovery);
    this.listener.keep();
    if (this.parts.callback === "own-listener") await this.listener.open();
    const port = this.listener.port ?? runtime.port;
    const startedAt = this.now();
    const flow: PendingFlow = {
      state: newSignInState(this.parts.upstreamKey),
      // Behind a front (--public-url, or learnt from it) the browser comes back to the public URL; the face routes it.
      redirectUri:
        this.parts.callback === "external" && runtime.publicUrl
          ? `${runtime.publicUrl}${CALLBACK_PATH}`
          : `http://${runtime.callbackHost}:${port}${CALLBACK_PATH}`,
      scope: options.scope ?? this.parts.defaultScope(),
      startedAt,
      expiresAt: startedAt + SIGN_IN_TIMEOUT_MS,
    };

    let url: string;
    try {
      const { auth: sdkAuth } = await loadSdk();
      const resourceMetadataUrl = this.parts.resourceMetadataUrl();
      const result = await sdkAuth(new FlowProvider(this.parts.flowHost(flow), flow), {
        serverUrl,
        ...(flow.scope ? { scope: flow.scope } : {}),
        ...(resourceMetadataUrl ? { resourceMetadataUrl: new URL(resourceMetadataUrl) } : {}),
        fetchFn: this.parts.fetchFn,
        forceReauthorization: true,
      });
      if (result === "AUTHORIZED") {
        // A non-interactive grant (no browser needed) already stored tokens: nothing will call back.
        void this.closeListenerIfIdle();
        return {
          url: flow.authorizationUrl ?? serverUrl,
          startedAt,
          expiresAt: flow.expiresAt,
          completed: Promise.resolve(),
        };
      }
      if (!flow.authorizationUrl) throw new ProxyError("INTERNAL", "The SDK did not produce an authorization URL.");
      url = assertSafeBrowserUrl(flow.authorizationUrl).href;
      flow.clientSource = (await this.parts.clients.read())?.source;
    } catch (error) {
      // Nothing will call back for this flow: the listener must not stay bound to the port.
      void this.closeListenerIfIdle();
      throw toProxyError(error, serverUrl);
    }
    const handle = this.track(flow, options, url, startedAt);
    if (this.parts.shared) {
      // Before the URL is shown: the browser may come back through another replica at once.
      await this.parts.shared.save(flow).catch((error: unknown) => {
        this.log.warn(
          `Could not share the sign-in to ${serverUrl} with other replicas (${toProxyError(error, serverUrl).toLine()}); its callback must reach this one.`,
        );
      });
    }
    const opened = this.present(url, options);
    const entry = this.flows.get(flow.state);
    if (this.parts.pasteBack && !opened && entry) {
      entry.stopPaste = offerPasteBack({
        terminal: this.parts.pasteBack,
        redirectUri: flow.redirectUri,
        pending: () => this.flows.has(flow.state),
        deliver: (query) => this.handleCallback(query),
      });
    }
    return handle;
  }

  /** Registers the flow as pending: its timeout, its stale-client watch, its handle. */
  private track(flow: PendingFlow, options: SignInOptions, url: string, startedAt: number): SignInHandle {
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
    const stopWatch = mayRegisterAgain(this.registerAgainContext(flow, options), "authorization")
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
    this.announce(handle, flow.scope);
    return handle;
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

  /** Shows the URL and opens the browser when this sign-in asks for one; returns whether it tried to open one. */
  private present(url: string, options: SignInOptions): boolean {
    const { printSignInUrl, openUrl, serverUrl, runtime } = this.parts;
    if (printSignInUrl) printSignInUrl(url, serverUrl);
    else this.log.info(`Sign in to ${serverUrl} at ${url}`);
    if (!(options.openBrowser ?? runtime.openBrowser) || runtime.browserAvailable === false || !openUrl) return false;
    openUrl(url).catch((error: unknown) => {
      this.log.warn(
        `Could not open a browser (${error instanceof Error ? error.message : String(error)}); open the URL above yourself.`,
      );
    });
    return true;
  }

  /** Completes a sign-in from the authorization server's redirect. Never throws. */
  async handleCallback(query: URLSearchParams): Promise<CallbackResult> {
    const { serverUrl } = this.parts;
    const state = query.get("state");
    let entry = state ? this.flows.get(state) : undefined;
    if (state && this.parts.shared) {
      const taken = await this.parts.shared.take(state).catch((error: unknown) => {
        this.log.warn(`Could not read shared sign-ins of ${serverUrl}: ${toProxyError(error, serverUrl).toLine()}`);
        return undefined;
      });
      if (taken?.outcome === "used") {
        return {
          ok: false,
          error: new ProxyError("STATE_MISMATCH", "This sign-in link was already used.", {
            hint: "Each sign-in link works once. Reload the proxy's page to see whether you are signed in, or start a new sign-in.",
          }),
        };
      }
      // Started by another replica: completed here, and whoever waits there learns of the tokens from the store.
      if (!entry && taken?.outcome === "taken") entry = this.remoteEntry(taken.flow);
    }
    if (!state || !entry) {
      // Unknown, missing, replayed or expired state: reject before any token request (RFC 6749 §10.12).
      return {
        ok: false,
        error: new ProxyError(
          "STATE_MISMATCH",
          state
            ? "This sign-in link is unknown, was already used, or has expired."
            : "The authorization response carries no state parameter; it was rejected.",
          { hint: `Start a new sign-in with \`mcp-u2m-proxy auth ${serverUrl}\`.` },
        ),
      };
    }
    this.flows.delete(state); // single use
    const { flow } = entry;
    if (flow.expiresAt <= this.now()) {
      const error = new ProxyError("SIGN_IN_TIMEOUT", "This sign-in has expired.", {
        hint: `Start a new one with \`mcp-u2m-proxy auth ${serverUrl}\`.`,
      });
      this.finish(state, error, entry);
      return { ok: false, error };
    }

    try {
      await exchangeCallback(query, flow, this.parts.flowHost(flow), this.parts.fetchFn, serverUrl);
    } catch (error) {
      if (flow.clientRefused && mayRegisterAgain(this.registerAgainContext(flow, entry.options), "token")) {
        // The token endpoint refused the client (invalid_client): the AS forgot the registration after it issued
        // the code. The SDK has dropped the registration already; register again and start over, once.
        this.flows.set(state, entry);
        await this.registerAgain(state, "the token endpoint answered invalid_client");
        return {
          ok: false,
          error: new ProxyError(
            "SIGN_IN_REQUIRED",
            "The authorization server no longer knew this proxy's client, so the proxy registered it again.",
            { hint: "Continue in the new sign-in tab (or open the new sign-in URL the proxy printed)." },
          ),
        };
      }
      const proxyError = flow.clientRefused ? this.clientRefusedError(flow) : toProxyError(error, serverUrl);
      this.log.warn(`Sign-in to ${serverUrl} failed: ${proxyError.toLine()}`);
      this.finish(state, proxyError, entry);
      return { ok: false, error: proxyError };
    }
    this.finish(state, undefined, entry);
    const account = this.parts.account();
    this.log.info(`Signed in to ${serverUrl}${account ? ` as ${account}` : ""}.`);
    return { ok: true, serverUrl, account };
  }

  /** A flow another replica started and this one took from the shared store: nobody waits for it here. */
  private remoteEntry(flow: PendingFlow): FlowEntry {
    return { flow, options: {}, settle: () => {}, detach: () => {} };
  }

  /** Abandons every pending sign-in and closes the listener (shutdown). */
  async close(): Promise<void> {
    this.devices.close();
    for (const state of [...this.flows.keys()]) {
      this.finish(state, new ProxyError("SIGN_IN_TIMEOUT", "The proxy is shutting down; the sign-in was abandoned."));
    }
    await this.listener.close();
  }

  private registerAgainContext(flow: PendingFlow, options: SignInOptions): RegisterAgainContext {
    return { source: flow.clientSource, registeredNow: flow.registeredNow === true, retried: options.retried === true };
  }

  /** The token endpoint refused the client of a sign-in and registering again is not an option (or was tried). */
  private clientRefusedError(flow: PendingFlow): ProxyError {
    const { serverUrl } = this.parts;
    const preRegistered = flow.clientSource === "pre-registered";
    return new ProxyError(
      "AS_ERROR",
      `The authorization server for ${serverUrl} refused this proxy's client (invalid_client) when the sign-in code was exchanged.`,
      {
        hint: preRegistered
          ? "Check --client-id and --client-secret with the server's administrator."
          : `Run \`mcp-u2m-proxy auth ${serverUrl}\` to sign in again (a new client is registered).`,
      },
    );
  }

  /**
   * The AS does not know the stored dynamic client of the sign-in `state`: drop the registration and start a new
   * sign-in (registering again, opening the browser again), once. Whoever waits for the first sign-in gets the
   * outcome of the second.
   */
  private async registerAgain(state: string, why: string): Promise<void> {
    const entry = this.flows.get(state);
    if (!entry) return;
    this.detachEntry(entry);
    this.log.warn(
      `The authorization server for ${this.parts.serverUrl} no longer knows this client; registering again and restarting the sign-in (${why}).`,
    );
    try {
      await this.parts.clients.forget();
      // The tab of the first sign-in shows the AS's error: the browser opens the new URL as configured, even for a
      // sign-in that the status page started in its own tab.
      const { openBrowser: _firstTab, ...options } = entry.options;
      this.chain(entry, await this.begin({ ...options, retried: true }));
    } catch (error) {
      entry.settle(toProxyError(error, this.parts.serverUrl));
      this.parts.onChange();
      void this.closeListenerIfIdle();
    }
  }

  private entryOf(handle: SignInHandle): FlowEntry | undefined {
    for (const entry of this.flows.values()) if (entry.flow.authorizationUrl === handle.url) return entry;
    return undefined;
  }

  /** Takes a flow out of the pending set without settling it: a new flow takes over (its state stops working). */
  private detachEntry(entry: FlowEntry): void {
    this.flows.delete(entry.flow.state);
    entry.detach();
    if (this.current?.url === entry.flow.authorizationUrl) this.current = undefined;
  }

  /** Whoever waits for `entry` gets the outcome of `next`. */
  private chain(entry: FlowEntry, next: SignInHandle): void {
    next.completed.then(
      () => entry.settle(),
      (error: unknown) => entry.settle(toProxyError(error, this.parts.serverUrl)),
    );
  }

  private finish(state: string, error: ProxyError | undefined, entry = this.flows.get(state)): void {
    this.flows.delete(state);
    entry?.settle(error);
    if (this.current && entry && this.current.url === entry.flow.authorizationUrl) this.current = undefined;
    this.parts.onChange();
    void this.closeListenerIfIdle();
  }

  private async closeListenerIfIdle(): Promise<void> {
    if (this.flows.size === 0) this.listener.closeSoon();
  }

  /** Whether a callback listener is bound now (tests of the listener's lifetime). */
  get listening(): boolean {
    return this.listener.bound;
  }
}
