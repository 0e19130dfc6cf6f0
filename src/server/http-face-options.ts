// The face's options and its view of the auth core, apart so route files can name them without the listener.
import type { AuthClient } from "../auth/auth-client.ts";
import type { Logger } from "../lib/logger.ts";
import type { EraVerdicts } from "../proxy/era/era-verdicts.ts";
import type { HttpRelay } from "../proxy/http-relay.ts";
import type { StreamLimits } from "../proxy/stream-limits.ts";
import type { UpstreamHealth } from "../proxy/upstream-health.ts";
import type { FaceTraffic } from "./face-traffic.ts";
import type { SessionBinding } from "./identity/session-binding.ts";
import type { RequestGuard } from "./request-guard.ts";
import type { SseKeepAlive } from "./sse-keep-alive.ts";
import type { TransportBridges } from "./transport-bridges.ts";

/** The auth core as the face uses it: the relay interface plus sign-out (UpstreamAuth). */
export interface FaceAuthClient extends AuthClient {
  clear?(): Promise<unknown>;
  /** Whether the sign-in that issued this `state` is this client's (one callback route serves many upstreams). */
  ownsSignIn?(state: string): boolean;
  /** Whether `state` was minted for this upstream by any replica (a callback the sign-in's replica did not get). */
  mintedSignInState?(state: string): boolean;
}

export interface HttpFaceOptions {
  upstreamUrl: string;
  auth?: FaceAuthClient | undefined;
  relay: HttpRelay;
  guard: RequestGuard;
  logger?: Logger | undefined;
  /**
   * Message-level bridging when the client's transport is not the upstream's, created on first need (it loads the
   * SDK, which the pass-through never needs). Without it, a legacy SSE client in front of a Streamable HTTP upstream
   * gets a 502 that says to use `/mcp`, and the reverse gets the upstream's refusal.
   */
  bridges?: (() => Promise<TransportBridges>) | undefined;
  /**
   * The upstream's MCP wire era (configured, stored or probed). With `bridges`, a 2025 client in front of a
   * 2026-07-28-only upstream is bridged (the proxy owns its session); same-era traffic stays on the pass-through.
   */
  eras?: EraVerdicts | undefined;
  /** The upstream's transport when known (else detected on the first `/sse` or `initialize` and remembered). */
  upstreamTransport?: "streamable-http" | "sse" | undefined;
  /** Caps on open long-lived streams (default: StreamLimits' defaults). */
  streamLimits?: StreamLimits | undefined;
  /** The upstream's reachability for /healthz (probed at most every few seconds); without it, not reported. */
  health?: UpstreamHealth | undefined;
  /**
   * Where this face is mounted when several upstreams share the port (`/servers/<name>`; default ""): the paths it
   * hands to clients (the legacy SSE message endpoint) carry it.
   */
  basePath?: string | undefined;
  /** The command that runs this proxy here, for the page's stdio snippets. */
  launch?: { command: string; args: string[] } | undefined;
  /** The form token of the page's buttons (default: a random one); shared when one page lists several upstreams. */
  csrf?: string | undefined;
  /** The proxy's public base URL once known (`--public-url`, or learnt from a trusted front): the page's snippets. */
  publicBaseUrl?: (() => string | undefined) | undefined;
  /** Metrics, access log and rate limit of the relayed requests (default: none of them). */
  traffic?: FaceTraffic | undefined;
  /** Keep-alive comments on the event streams served (and the list of them, for the shutdown); default none. */
  keepAlive?: SseKeepAlive | undefined;
  /** With several users (`--identity`): sessions bound to whoever created them, refused for anyone else. */
  sessionBinding?: SessionBinding | undefined;
}
