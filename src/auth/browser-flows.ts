// Browser (authorization code) sign-ins of one upstream: the authorization URL shown, and the callback that ends it.

import { CALLBACK_PATH, SIGN_IN_TIMEOUT_MS } from "../config/options.ts";
import { ProxyError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import { assertSafeBrowserUrl } from "../lib/open-url.ts";
import type { CallbackResult, SignInHandle } from "./auth-client.ts";
import { clientNeeded, isNoRegistrationError } from "./client-needed.ts";
import { FlowProvider, type PendingFlow } from "./flow-provider.ts";
import { toProxyError } from "./oauth-errors.ts";
import { offerPasteBack } from "./paste-back.ts";
import { type FlowEntry, type PendingBrowserFlows, registerAgainContext } from "./pending-browser-flows.ts";
import { loadSdk } from "./sdk.ts";
import { exchangeCallback } from "./sign-in-callback.ts";
import type { SignInFlowsParts, SignInOptions } from "./sign-in-parts.ts";
import { newSignInState } from "./sign-in-state.ts";
import { mayRegisterAgain } from "./stale-client.ts";

/**
 * The steps of a browser sign-in: a new flow and its authorization URL (discovery and registration by the SDK),
 * shared with other replicas, shown once (with paste-back when no browser is opened here), then the exchange of
 * the code from the callback (with the `iss` check first) or a restart when the token endpoint forgot the client.
 * The flows waiting in between are kept by PendingBrowserFlows; SignInFlows decides when one starts.
 */
export class BrowserFlows {
  constructor(
    private readonly parts: SignInFlowsParts,
    private readonly pending: PendingBrowserFlows,
    private readonly hooks: { now: () => number; log: Logger },
  ) {}

  /** Starts a browser sign-in: resolves once its URL is shown (or at once when a grant needed no browser). */
  async begin(options: SignInOptions): Promise<SignInHandle> {
    const { serverUrl, runtime } = this.parts;
    // First: when it fails (it may discover), no listener has been opened for nothing.
    const scope = await this.parts.signInScope(options.scope);
    const { listener } = this.pending;
    listener.keep();
    if (this.parts.callback === "own-listener") await listener.open();
    const port = listener.port ?? runtime.port;
    const startedAt = this.hooks.now();
    const flow: PendingFlow = {
      state: newSignInState(this.parts.upstreamKey),
      // Behind a front (--public-url, or learnt from it) the browser comes back to the public URL; the face routes it.
      redirectUri:
        this.parts.callback === "external" && runtime.publicUrl
          ? `${runtime.publicUrl}${CALLBACK_PATH}`
          : `http://${runtime.callbackHost}:${port}${CALLBACK_PATH}`,
      scope,
      startedAt,
      expiresAt: startedAt + SIGN_IN_TIMEOUT_MS,
    };

    let url: string;
    try {
      const { auth: sdkAuth } = await loadSdk();
      const resourceMetadataUrl = this.parts.resourceMetadataUrl();
      const host = this.parts.flowHost(flow);
      const result = await sdkAuth(new FlowProvider(host, flow), {
        serverUrl,
        ...(flow.scope ? { scope: flow.scope } : {}),
        ...(resourceMetadataUrl ? { resourceMetadataUrl: new URL(resourceMetadataUrl) } : {}),
        fetchFn: this.parts.fetchFn,
        skipIssuerMetadataValidation: host.issuers.relaxed,
        forceReauthorization: true,
      });
      if (result === "AUTHORIZED") {
        // A non-interactive grant (no browser needed) already stored tokens: nothing will call back.
        void this.pending.closeListenerIfIdle();
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
      void this.pending.closeListenerIfIdle();
      if (isNoRegistrationError(error)) {
        throw clientNeeded(serverUrl, flow.discovery?.authorizationServerMetadata?.issuer, flow.redirectUri, error);
      }
      throw toProxyError(error, serverUrl);
    }
    const handle = this.pending.track(flow, options, url, startedAt);
    if (this.parts.shared) {
      // Before the URL is shown: the browser may come back through another replica at once.
      await this.parts.shared.save(flow).catch((error: unknown) => {
        this.hooks.log.warn(
          `Could not share the sign-in to ${serverUrl} with other replicas (${toProxyError(error, serverUrl).toLine()}); its callback must reach this one.`,
        );
      });
    }
    const opened = this.present(url, options);
    const entry = this.pending.get(flow.state);
    if (this.parts.pasteBack && !opened && entry) {
      entry.stopPaste = offerPasteBack({
        terminal: this.parts.pasteBack,
        redirectUri: flow.redirectUri,
        pending: () => this.pending.has(flow.state),
        deliver: (query) => this.handleCallback(query),
      });
    }
    return handle;
  }

  /** Shows the URL and opens the browser when this sign-in asks for one; returns whether it tried to open one. */
  private present(url: string, options: SignInOptions): boolean {
    const { printSignInUrl, openUrl, serverUrl, runtime } = this.parts;
    if (printSignInUrl) printSignInUrl(url, serverUrl);
    else this.hooks.log.info(`Sign in to ${serverUrl} at ${url}`);
    if (!(options.openBrowser ?? runtime.openBrowser) || runtime.browserAvailable === false || !openUrl) return false;
    openUrl(url).catch((error: unknown) => {
      this.hooks.log.warn(
        `Could not open a browser (${error instanceof Error ? error.message : String(error)}); open the URL above yourself.`,
      );
    });
    return true;
  }

  /** Completes a sign-in from the authorization server's redirect. Never throws. */
  async handleCallback(query: URLSearchParams): Promise<CallbackResult> {
    const { serverUrl } = this.parts;
    const state = query.get("state");
    let entry = state ? this.pending.get(state) : undefined;
    if (state && this.parts.shared) {
      const taken = await this.parts.shared.take(state).catch((error: unknown) => {
        this.hooks.log.warn(
          `Could not read shared sign-ins of ${serverUrl}: ${toProxyError(error, serverUrl).toLine()}`,
        );
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
    this.pending.delete(state); // single use
    const { flow } = entry;
    if (flow.expiresAt <= this.hooks.now()) {
      const error = new ProxyError("SIGN_IN_TIMEOUT", "This sign-in has expired.", {
        hint: `Start a new one with \`mcp-u2m-proxy auth ${serverUrl}\`.`,
      });
      this.pending.finish(state, error, entry);
      return { ok: false, error };
    }

    try {
      await exchangeCallback(query, flow, this.parts.flowHost(flow), this.parts.fetchFn, serverUrl);
    } catch (error) {
      if (flow.clientRefused && mayRegisterAgain(registerAgainContext(flow, entry.options), "token")) {
        // The token endpoint refused the client (invalid_client): the AS forgot the registration after it issued
        // the code. The SDK has dropped the registration already; register again and start over, once.
        this.pending.set(state, entry);
        await this.pending.registerAgain(state, "the token endpoint answered invalid_client");
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
      this.hooks.log.warn(`Sign-in to ${serverUrl} failed: ${proxyError.toLine()}`);
      this.pending.finish(state, proxyError, entry);
      return { ok: false, error: proxyError };
    }
    this.pending.finish(state, undefined, entry);
    const account = this.parts.account();
    this.hooks.log.info(`Signed in to ${serverUrl}${account ? ` as ${account}` : ""}.`);
    return { ok: true, serverUrl, account };
  }

  /** A flow another replica started and this one took from the shared store: nobody waits for it here. */
  private remoteEntry(flow: PendingFlow): FlowEntry {
    return { flow, options: {}, settle: () => {}, detach: () => {} };
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
}
