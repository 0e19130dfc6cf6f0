// What one upstream's sign-ins are asked and built from, shared by SignInFlows, BrowserFlows and DeviceFlows.

import type { OAuthDiscoveryState } from "@modelcontextprotocol/client";
import type { RuntimeOptions } from "../config/options.ts";
import type { Logger } from "../lib/logger.ts";
import type { FetchLike } from "./authorized-fetch.ts";
import type { ClientRegistry } from "./client-registry.ts";
import type { DevicePrompt } from "./device-authorization.ts";
import type { FlowHost, PendingFlow } from "./flow-provider.ts";
import type { PasteBackTerminal } from "./paste-back.ts";
import type { SharedSignIns } from "./shared-sign-ins.ts";

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
  /**
   * The scope a sign-in asks for: the caller's, else the configured one, else what the upstream challenged
   * (undefined: the SDK's choice). With the ID token as the bearer, always with `openid`.
   */
  signInScope: (requested: string | undefined) => Promise<string | undefined>;
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
