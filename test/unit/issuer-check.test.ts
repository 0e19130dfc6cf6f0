// RFC 8414 §3.3 with exceptions: exact matches pass, a mismatch is refused unless --accept-issuer names exactly that
// issuer or it is one of Atlassian's documented mismatches (for an upstream on mcp.atlassian.com only).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { OAuthDiscoveryState } from "@modelcontextprotocol/client";
import { issuerCheck, issuerMatches } from "../../src/auth/issuer-check.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { createLogger } from "../../src/lib/logger.ts";

const ATLASSIAN = "https://mcp.atlassian.com/v1/mcp";
const ATLASSIAN_V2 = "https://mcp.atlassian.com/v1/mcp/authv2";
const SLACK = "https://mcp.slack.com/mcp";

function stateOf(authorizationServerUrl: string, issuer: string | undefined): OAuthDiscoveryState {
  return {
    authorizationServerUrl,
    ...(issuer === undefined
      ? {}
      : {
          authorizationServerMetadata: {
            issuer,
            authorization_endpoint: `${issuer}/authorize`,
            token_endpoint: `${issuer}/token`,
            response_types_supported: ["code"],
          },
        }),
  } as OAuthDiscoveryState;
}

function checkFor(serverUrl: string, acceptIssuer?: string) {
  const warnings: string[] = [];
  const check = issuerCheck({
    serverUrl,
    acceptIssuer,
    log: createLogger({ level: "warn", write: (line) => void warnings.push(line) }),
  });
  return { check, warnings };
}

function refused(run: () => void, issuer: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(isProxyError(error, "ISSUER_MISMATCH"), String(error));
    assert.ok(((error as { hint?: string }).hint ?? "").includes(`--accept-issuer ${issuer}`));
    return true;
  });
}

describe("issuerMatches (the SDK's comparison)", () => {
  test("exact, or the URL's trailing slash alone", () => {
    assert.equal(issuerMatches("https://as.example.com", "https://as.example.com"), true);
    assert.equal(issuerMatches("https://as.example.com/", "https://as.example.com"), true);
    assert.equal(issuerMatches("https://as.example.com", "https://as.example.com/"), false);
    assert.equal(issuerMatches("https://as.example.com/t1", "https://as.example.com"), false);
    assert.equal(issuerMatches("https://as.example.com", "https://AS.example.com"), false);
  });
});

describe("issuerCheck", () => {
  test("an ordinary upstream leaves the check to the SDK, and refuses any mismatch itself too", () => {
    const { check, warnings } = checkFor("https://mcp.example.com/mcp");
    assert.equal(check.relaxed, false);
    check.check(stateOf("https://as.example.com/", "https://as.example.com"));
    check.check(stateOf("https://as.example.com/", undefined));
    refused(
      () => check.check(stateOf("https://as.example.com/t1", "https://as.example.com")),
      "https://as.example.com",
    );
    assert.deepEqual(warnings, []);
  });

  test("--accept-issuer accepts exactly that issuer, warning once; any other is still refused", () => {
    const { check, warnings } = checkFor("https://mcp.example.com/mcp", "https://as.example.com");
    assert.equal(check.relaxed, true);
    check.check(stateOf("https://as.example.com/t1", "https://as.example.com"));
    check.check(stateOf("https://as.example.com/t1", "https://as.example.com"));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /accepted because of --accept-issuer/);
    refused(() => check.check(stateOf("https://as.example.com/t1", "https://evil.example")), "https://evil.example");
    refused(
      () => check.check(stateOf("https://as.example.com/t1", "https://as.example.com/")),
      "https://as.example.com/",
    );
    check.check(stateOf("https://other.example/", "https://other.example"));
  });

  test("Atlassian's /v1/mcp: the root metadata naming https://cf.mcp.atlassian.com is accepted", () => {
    const { check, warnings } = checkFor(ATLASSIAN);
    assert.equal(check.relaxed, true);
    check.check(stateOf("https://mcp.atlassian.com/", "https://cf.mcp.atlassian.com"));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /known mismatch of mcp\.atlassian\.com/);
    assert.match(warnings[0]!, /atlassian-mcp-server\/issues\/148/);
  });

  test("Atlassian's authv2: a tenant of auth.atlassian.com naming the bare origin is accepted", () => {
    const { check } = checkFor(ATLASSIAN_V2);
    check.check(stateOf("https://auth.atlassian.com/VCeDsk8ZHncYF1g234fKtc4lNipbBhu3", "https://auth.atlassian.com"));
    check.check(stateOf("https://auth.atlassian.com/VCeDsk8ZHncYF1g234fKtc4lNipbBhu3/", "https://auth.atlassian.com"));
  });

  test("Atlassian's exceptions are exact: other issuers, URLs and upstreams are refused", () => {
    const { check } = checkFor(ATLASSIAN_V2);
    refused(
      () => check.check(stateOf("https://auth.atlassian.com/t1", "https://evil.example")),
      "https://evil.example",
    );
    refused(
      () => check.check(stateOf("https://auth.atlassian.com/t1/t2", "https://auth.atlassian.com")),
      "https://auth.atlassian.com",
    );
    refused(
      () => check.check(stateOf("https://mcp.atlassian.com/v1", "https://cf.mcp.atlassian.com")),
      "https://cf.mcp.atlassian.com",
    );
    refused(
      () => check.check(stateOf("https://evil.example/t1", "https://auth.atlassian.com")),
      "https://auth.atlassian.com",
    );
    // The same metadata for another upstream: the SDK's strict check, and this one, refuse it.
    const other = checkFor("https://mcp.example.com/mcp").check;
    assert.equal(other.relaxed, false);
    refused(
      () => other.check(stateOf("https://mcp.atlassian.com/", "https://cf.mcp.atlassian.com")),
      "https://cf.mcp.atlassian.com",
    );
  });

  test("Slack: https://mcp.slack.com naming https://slack.com is accepted, for that upstream only", () => {
    const { check, warnings } = checkFor(SLACK);
    assert.equal(check.relaxed, true);
    check.check(stateOf("https://mcp.slack.com/", "https://slack.com"));
    check.check(stateOf("https://mcp.slack.com", "https://slack.com"));
    check.check(stateOf("https://mcp.slack.com/", "https://mcp.slack.com"));
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /slack-skills-plugin\/issues\/7/);
    refused(() => check.check(stateOf("https://mcp.slack.com/", "https://evil.slack.com")), "https://evil.slack.com");
    refused(() => check.check(stateOf("https://evil.example/", "https://slack.com")), "https://slack.com");
    refused(
      () => checkFor("https://mcp.example.com/mcp").check.check(stateOf("https://mcp.slack.com/", "https://slack.com")),
      "https://slack.com",
    );
  });
});

describe("sameServer (a recorded client or grant still belongs to the server discovered now)", () => {
  test("the same issuer, give or take one trailing slash; never another server", () => {
    const { check } = checkFor("https://mcp.example.com/mcp");
    assert.equal(check.sameServer("https://as.example.com/", "https://as.example.com", "https://as.example.com"), true);
    assert.equal(check.sameServer(undefined, "https://as.example.com/", "https://as.example.com"), true);
    assert.equal(check.sameServer("https://as.example.com/", undefined, "https://as.example.com"), false);
    assert.equal(check.sameServer("https://new.example/", "https://as.example.com", "https://new.example"), false);
    // A server's own URL and an issuer it names are not the same server without an exception.
    assert.equal(
      check.sameServer("https://as.example.com/t1", "https://as.example.com/t1", "https://as.example.com"),
      false,
    );
  });

  test("a known mismatch fixed, or alternating (Slack), is the same server in both directions", () => {
    const slack = checkFor(SLACK).check;
    assert.equal(slack.sameServer("https://mcp.slack.com", "https://slack.com", "https://mcp.slack.com"), true);
    assert.equal(slack.sameServer("https://mcp.slack.com/", "https://mcp.slack.com", "https://slack.com"), true);
    assert.equal(slack.sameServer("https://mcp.slack.com/", "https://evil.example", "https://slack.com"), false);
    assert.equal(slack.sameServer("https://other.slack.com/", "https://slack.com", "https://other.slack.com"), false);
    const atlassian = checkFor(ATLASSIAN).check;
    assert.equal(
      atlassian.sameServer("https://mcp.atlassian.com/", "https://cf.mcp.atlassian.com", "https://mcp.atlassian.com/"),
      true,
    );
    // The same pair for an upstream the exception is not for.
    const other = checkFor("https://mcp.example.com/mcp").check;
    assert.equal(other.sameServer("https://mcp.slack.com", "https://slack.com", "https://mcp.slack.com"), false);
  });

  test("--accept-issuer names no server URL: only a server recorded under its URL that now names that issuer", () => {
    const { check } = checkFor("https://mcp.example.com/mcp", "https://as.example.com");
    assert.equal(
      check.sameServer("https://as.example.com/t1", "https://as.example.com/t1", "https://as.example.com"),
      true,
    );
    // Recorded under the accepted issuer, now at a server naming itself: maybe another server, so not the same.
    assert.equal(check.sameServer("https://new.example/", "https://as.example.com", "https://new.example"), false);
    assert.equal(
      check.sameServer("https://as.example.com/t1", "https://as.example.com/t2", "https://as.example.com"),
      false,
    );
  });
});

describe("acceptance (what status says accepted a stored discovery's issuer)", () => {
  test("nothing for a matching issuer; the known mismatch or --accept-issuer otherwise", () => {
    const atlassian = checkFor(ATLASSIAN).check;
    assert.equal(atlassian.acceptance(stateOf("https://as.example.com/", "https://as.example.com")), undefined);
    assert.equal(atlassian.acceptance(stateOf("https://as.example.com/", undefined)), undefined);
    assert.match(
      atlassian.acceptance(stateOf("https://mcp.atlassian.com/", "https://cf.mcp.atlassian.com")) ?? "",
      /^a known mismatch of mcp\.atlassian\.com \(https:\/\/github\.com\/atlassian\/atlassian-mcp-server\/issues\/148\)$/,
    );
    // Stored after a sign-in with --accept-issuer, read by a status run without it.
    const plain = checkFor("https://mcp.example.com/mcp").check;
    assert.equal(plain.acceptance(stateOf("https://as.example.com/t1", "https://as.example.com")), "--accept-issuer");
  });
});
