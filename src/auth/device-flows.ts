import { randomBytes } from "node:crypto";
import type { OAuthDiscoveryState } from "@modelcontextprotocol/client";
import { CALLBACK_PATH, SIGN_IN_TIMEOUT_MS } from "../config/options.ts";
import { ProxyError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import type { SignInHandle } from "./auth-client.ts";
import { deviceEndpointOf, deviceFlowUnsupported } from "./device-authorization.ts";
import { runDeviceSignIn } from "./device-sign-in.ts";
import type { PendingFlow } from "./flow-provider.ts";
import { toProxyError } from "./oauth-errors.ts";
import { chooseSignInMethod } from "./sign-in-method.ts";
import type { SignInFlowsParts, SignInOptions } from "./sign-in-parts.ts";

/** A device sign-in under way: no `state`, nothing calls back; it ends when polling does. */
export interface DeviceEntry {
  handle: SignInHandle;
  options: SignInOptions;
  abort: AbortController;
  settle: (error?: ProxyError) => void;
  /** A restart took over: its end no longer settles anything (its waiters follow the new flow). */
  detached: boolean;
}

/** What SignInFlows lends its device sign-ins: the clock, the log, and its one "pending sign-in" slot. */
export interface DeviceFlowHooks {
  now: () => number;
  log: Logger;
  /** This sign-in is the pending one now (requests join it, waiters learn of it). */
  announce: (handle: SignInHandle, scope: string | undefined) => void;
  /** It is pending no more. */
  ended: (handle: SignInHandle) => void;
}

/**
 * The device sign-ins of one upstream (at most one at a time): whether a sign-in is to be one, starting it, and
 * ending it (done, failed, superseded by a wider step-up, or shutdown). BrowserFlows keeps the browser flows.
 */
export class DeviceFlows {
  private entry: DeviceEntry | undefined;

  constructor(
    private readonly parts: SignInFlowsParts,
    private readonly hooks: DeviceFlowHooks,
  ) {}

  /** The device sign-in behind this handle, when it is the one under way. */
  entryOf(handle: SignInHandle | undefined): DeviceEntry | undefined {
    return handle !== undefined && this.entry?.handle === handle ? this.entry : undefined;
  }

  /**
   * The discovery a device sign-in starts from, when this sign-in is to be one (chooseSignInMethod): forced, or
   * offered by the AS where the browser flow cannot work. Undefined: a browser sign-in.
   */
  async discoveryFor(options: SignInOptions): Promise<OAuthDiscoveryState | undefined> {
    const { runtime, serverUrl } = this.parts;
    const choice = chooseSignInMethod({
      method: runtime.signInMethod,
      openBrowser: options.openBrowser ?? runtime.openBrowser,
      browserAvailable: runtime.browserAvailable,
      pasteBack: this.parts.pasteBack !== undefined,
      startedFromPage: options.openBrowser === false && this.parts.callback === "external",
      ownListener: this.parts.callback === "own-listener",
    });
    if (choice === "browser") return undefined;
    let discovery: OAuthDiscoveryState;
    try {
      discovery = await this.parts.discover();
    } catch (error) {
      throw toProxyError(error, serverUrl);
    }
    const metadata = discovery.authorizationServerMetadata;
    if (deviceEndpointOf(metadata)) return discovery;
    if (choice === "device") throw deviceFlowUnsupported(serverUrl, metadata?.issuer);
    this.hooks.log.debug(
      `The authorization server for ${serverUrl} offers no device sign-in; using the browser sign-in.`,
    );
    return undefined;
  }

  /** Starts an RFC 8628 sign-in; resolves once its code is shown (or rejects when it could not get one). */
  async begin(options: SignInOptions, discovery: OAuthDiscoveryState): Promise<SignInHandle> {
    const { serverUrl, runtime } = this.parts;
    const scope = await this.parts.signInScope(options.scope);
    const startedAt = this.hooks.now();
    // The registration names the redirect URI a browser sign-in on this port would use, so it can reuse the client.
    const port = runtime.port === 0 ? "" : `:${runtime.port}`;
    const flow: PendingFlow = {
      state: randomBytes(32).toString("base64url"),
      redirectUri: `http://${runtime.callbackHost}${port}${CALLBACK_PATH}`,
      scope,
      startedAt,
      expiresAt: startedAt + SIGN_IN_TIMEOUT_MS,
      grant: "device",
      discovery,
    };
    let settle!: (error?: ProxyError) => void;
    const completed = new Promise<void>((resolve, reject) => {
      settle = (error) => (error ? reject(error) : resolve());
    });
    completed.catch(() => {}); // Callers that never await it must not crash the process.
    const abort = new AbortController();
    let shown!: (handle: SignInHandle) => void;
    const whenShown = new Promise<SignInHandle>((resolve) => {
      shown = resolve;
    });
    const entry: DeviceEntry = {
      handle: { url: serverUrl, startedAt, expiresAt: flow.expiresAt, completed },
      options,
      abort,
      settle,
      detached: false,
    };
    const run = runDeviceSignIn({
      serverUrl,
      flow,
      host: this.parts.flowHost(flow),
      resourceMetadataUrl: this.parts.resourceMetadataUrl(),
      fetchFn: this.parts.fetchFn,
      signal: abort.signal,
      now: this.hooks.now,
      ...(this.parts.sleep ? { sleep: this.parts.sleep } : {}),
      show: (prompt) => {
        const url = prompt.verificationUriComplete ?? prompt.verificationUri;
        entry.handle = { url, userCode: prompt.userCode, startedAt, expiresAt: prompt.expiresAt, completed };
        this.entry = entry;
        this.hooks.announce(entry.handle, flow.scope);
        const { printDeviceCode } = this.parts;
        if (printDeviceCode) printDeviceCode(prompt, serverUrl);
        else
          this.hooks.log.info(`Sign in to ${serverUrl} at ${prompt.verificationUri} with the code ${prompt.userCode}`);
        shown(entry.handle);
      },
    });
    const ended = run.then(
      () => {
        if (entry.detached) return;
        this.end(entry);
        entry.settle();
        const account = this.parts.account();
        this.hooks.log.info(`Signed in to ${serverUrl}${account ? ` as ${account}` : ""}.`);
      },
      (error: unknown) => {
        const proxyError = toProxyError(error, serverUrl);
        if (entry.detached) return proxyError;
        this.end(entry);
        entry.settle(proxyError);
        return proxyError;
      },
    );
    const first = await Promise.race([whenShown, ended]);
    if (first instanceof ProxyError) throw first;
    return first ?? entry.handle;
  }

  /** Takes a device sign-in out of the pending set and stops its polling. */
  end(entry: DeviceEntry): void {
    if (entry.detached) return;
    entry.detached = true;
    entry.abort.abort(new ProxyError("SIGN_IN_TIMEOUT", "The device sign-in was abandoned."));
    if (this.entry === entry) this.entry = undefined;
    this.hooks.ended(entry.handle);
  }

  /** Abandons the sign-in under way (shutdown). */
  close(): void {
    const entry = this.entry;
    if (!entry) return;
    this.end(entry);
    entry.settle(new ProxyError("SIGN_IN_TIMEOUT", "The proxy is shutting down; the sign-in was abandoned."));
  }
}
