import type { OAuthDiscoveryState } from "@modelcontextprotocol/client";
import { ProxyError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";

/**
 * RFC 8414 §3.3: the metadata's `issuer` MUST equal the authorization server URL it was fetched for, which stops a
 * mix-up attack. Some large servers publish otherwise, and strict clients (the SDK v2, the Go SDK, Copilot CLI)
 * cannot sign in to them at all. Each exception accepts exactly one issuer for one authorization server URL: the
 * metadata is still fetched over https from the URL the protected resource named, and the authorization
 * response's `iss` (RFC 9207) is still checked against the issuer accepted here.
 */
interface KnownException {
  /** The MCP server host the exception is for: other upstreams keep the SDK's own strict check. */
  upstreamHost: string;
  /** The issuer accepted when the authorization server URL is `asUrl`, or undefined when it does not apply. */
  issuerFor(asUrl: URL): string | undefined;
  /** Where the mismatch is documented, for the warning. */
  reference: string;
}

const KNOWN_EXCEPTIONS: readonly KnownException[] = [
  {
    // https://mcp.atlassian.com/v1/mcp: metadata at the server's root names https://cf.mcp.atlassian.com.
    upstreamHost: "mcp.atlassian.com",
    issuerFor: (asUrl) =>
      asUrl.origin === "https://mcp.atlassian.com" && asUrl.pathname === "/"
        ? "https://cf.mcp.atlassian.com"
        : undefined,
    reference: "https://github.com/atlassian/atlassian-mcp-server/issues/148",
  },
  {
    // https://mcp.atlassian.com/v1/mcp/authv2: the resource names https://auth.atlassian.com/<tenant>, whose metadata
    // names the bare origin.
    upstreamHost: "mcp.atlassian.com",
    issuerFor: (asUrl) =>
      asUrl.origin === "https://auth.atlassian.com" && /^\/[A-Za-z0-9_-]+\/?$/.test(asUrl.pathname)
        ? "https://auth.atlassian.com"
        : undefined,
    reference: "https://github.com/atlassian/atlassian-mcp-server/issues/205",
  },
  {
    // https://mcp.slack.com/mcp: the resource names https://mcp.slack.com, whose metadata has named both that and
    // https://slack.com (where its token endpoint is).
    upstreamHost: "mcp.slack.com",
    issuerFor: (asUrl) =>
      asUrl.origin === "https://mcp.slack.com" && asUrl.pathname === "/" ? "https://slack.com" : undefined,
    reference: "https://github.com/slackapi/slack-skills-plugin/issues/7",
  },
];

/** The SDK's comparison (RFC 8414 §3.3 exact match; a trailing slash on the URL alone is tolerated). */
export function issuerMatches(authorizationServerUrl: string, issuer: string | undefined): boolean {
  return (
    issuer === authorizationServerUrl ||
    (authorizationServerUrl.endsWith("/") && issuer === authorizationServerUrl.slice(0, -1))
  );
}

export interface IssuerCheck {
  /**
   * True when an exception may apply to this upstream: the SDK's own check is then switched off
   * (`skipIssuerMetadataValidation`) and `check` does it instead, with the exceptions. False: the SDK checks.
   */
  readonly relaxed: boolean;
  /** Throws ISSUER_MISMATCH unless the discovered metadata's issuer matches its URL or an exception accepts it. */
  check(state: OAuthDiscoveryState): void;
  /**
   * For `status`, given a stored discovery (which passed `check` when it was made): what accepted its metadata's
   * issuer when that differs from its URL, "a known mismatch of <host> (<where documented>)" or "--accept-issuer"
   * (given then, if not now); undefined when they match.
   */
  acceptance(state: OAuthDiscoveryState): string | undefined;
  /**
   * Whether a client or grant recorded under the issuer `recorded` belongs to the authorization server discovered
   * now at `authorizationServerUrl`, whose metadata names `current` (SEP-2352: nothing crosses to another server).
   * The same issuer (give or take one trailing slash, as the SDK compares), or two names of that one server: its
   * URL and the issuer an exception accepts for it. A server that publishes a wrong issuer may fix it or, like
   * Slack, alternate between the two; neither is a move to another server, and neither signs anyone out.
   */
  sameServer(authorizationServerUrl: string | undefined, recorded: string | undefined, current: string): boolean;
}

export interface IssuerCheckOptions {
  serverUrl: string;
  /** --accept-issuer (config `oauth.acceptIssuer`): the one other issuer this upstream's AS may name. */
  acceptIssuer?: string | undefined;
  log: Logger;
}

export function issuerCheck({ serverUrl, acceptIssuer, log }: IssuerCheckOptions): IssuerCheck {
  const upstreamHost = new URL(serverUrl).hostname;
  const known = KNOWN_EXCEPTIONS.filter((exception) => exception.upstreamHost === upstreamHost);
  const warned = new Set<string>();
  const warnOnce = (line: string) => {
    if (warned.has(line)) return;
    warned.add(line);
    log.warn(line);
  };
  // Why a mismatch is accepted, or undefined when nothing accepts it.
  const acceptedBecause = (asUrl: string, issuer: string): string | undefined => {
    if (acceptIssuer !== undefined && issuer === acceptIssuer) return "--accept-issuer";
    const exception = known.find((candidate) => candidate.issuerFor(new URL(asUrl)) === issuer);
    return exception ? `a known mismatch of ${upstreamHost} (${exception.reference})` : undefined;
  };
  return {
    relaxed: acceptIssuer !== undefined || known.length > 0,
    check(state) {
      const metadata = state.authorizationServerMetadata;
      if (!metadata) return;
      const asUrl = String(state.authorizationServerUrl);
      const issuer = metadata.issuer;
      if (issuerMatches(asUrl, issuer)) return;
      const because = acceptedBecause(asUrl, issuer);
      if (!because) throw issuerMismatch(serverUrl, asUrl, issuer);
      warnOnce(
        `The authorization server metadata fetched for ${asUrl} names the issuer ${issuer} (RFC 8414 §3.3 wants them equal); accepted because of ${because}.`,
      );
    },
    acceptance(state) {
      const issuer = state.authorizationServerMetadata?.issuer;
      const asUrl = String(state.authorizationServerUrl);
      if (issuer === undefined || issuerMatches(asUrl, issuer)) return undefined;
      return acceptedBecause(asUrl, issuer) ?? "--accept-issuer";
    },
    sameServer(asUrl, recorded, current) {
      if (recorded === undefined) return false;
      if (withoutSlash(recorded) === withoutSlash(current)) return true;
      if (asUrl === undefined) return false;
      const here = withoutSlash(asUrl);
      let parsed: URL;
      try {
        parsed = new URL(asUrl);
      } catch {
        return false;
      }
      // A built-in exception is tied to this URL: both directions are the same server.
      const names = new Set([here, ...known.flatMap((exception) => exception.issuerFor(parsed) ?? [])]);
      if (names.has(withoutSlash(recorded)) && names.has(withoutSlash(current))) return true;
      // --accept-issuer names no URL: only a server recorded under its own URL that now names the accepted issuer.
      return acceptIssuer !== undefined && current === acceptIssuer && withoutSlash(recorded) === here;
    },
  };
}

const withoutSlash = (url: string): string => (url.endsWith("/") ? url.slice(0, -1) : url);

/** The error for metadata naming another issuer, with the way out a user can take when they trust that issuer. */
export function issuerMismatch(serverUrl: string, asUrl: string | undefined, issuer: string | undefined): ProxyError {
  return new ProxyError(
    "ISSUER_MISMATCH",
    `The authorization server metadata for ${serverUrl} was fetched for ${asUrl ?? "its authorization server"} but names the issuer ${issuer ?? "(none)"}; RFC 8414 §3.3 wants them equal, so it was refused.`,
    {
      hint: issuer
        ? `If ${issuer} really is this server's authorization server (its operator publishes a wrong issuer), pass --accept-issuer ${issuer} (in a config file: "mcp-u2m-proxy": { "oauth": { "acceptIssuer": "${issuer}" } } in the server's entry): exactly that issuer is then accepted for this server.`
        : "Ask the server's operator to publish an issuer in its authorization server metadata.",
      details: { expected: asUrl, received: issuer },
    },
  );
}
