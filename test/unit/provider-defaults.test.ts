// Provider defaults chosen by the discovered issuer: Google gets access_type=offline and prompt=consent (else no
// refresh token), Entra gets no RFC 8707 `resource` (AADSTS9010010). The user's own options always win. Checked on
// the decisions and on the SDK provider the sign-in hands to the SDK's auth() (the authorization URL it builds, and
// whether it asks the SDK to leave `resource` out).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { OAuthDiscoveryState } from "@modelcontextprotocol/client";
import { type FlowHost, FlowProvider, type PendingFlow } from "../../src/auth/flow-provider.ts";
import { issuerCheck } from "../../src/auth/issuer-check.ts";
import {
  authorizeParamsFor,
  providerAdjustments,
  providerDefaults,
  sendsResource,
} from "../../src/auth/provider-defaults.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { silentLogger } from "../../src/lib/logger.ts";

const GOOGLE = "https://accounts.google.com";
const ENTRA = "https://login.microsoftonline.com/2f4a9c1e-0000-4000-8000-000000000001/v2.0";
const OTHER = "https://as.example.com";
const MCP = "https://mcp.example.com/mcp";

describe("providerDefaults", () => {
  test("by issuer: Google, Entra (its clouds and CIAM), nothing for others or for non-https look-alikes", () => {
    assert.equal(providerDefaults(GOOGLE)?.name, "Google");
    assert.equal(providerDefaults(ENTRA)?.name, "Microsoft Entra ID");
    assert.equal(providerDefaults("https://login.microsoftonline.us/t/v2.0")?.name, "Microsoft Entra ID");
    assert.equal(providerDefaults("https://contoso.ciamlogin.com/t/v2.0")?.name, "Microsoft Entra ID");
    assert.equal(providerDefaults("https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_Q")?.name, "Amazon Cognito");
    for (const issuer of [
      OTHER,
      "http://accounts.google.com",
      "https://accounts.google.com.evil.example",
      "x",
      undefined,
    ]) {
      assert.equal(providerDefaults(issuer), undefined, String(issuer));
    }
  });

  test("authorizeParamsFor: the provider's, then the user's, which win by name whatever its case", () => {
    assert.deepEqual(authorizeParamsFor(GOOGLE, {}), { access_type: "offline", prompt: "consent" });
    assert.deepEqual(authorizeParamsFor(GOOGLE, { Prompt: "select_account", hd: "example.com" }), {
      access_type: "offline",
      Prompt: "select_account",
      hd: "example.com",
    });
    assert.deepEqual(authorizeParamsFor(OTHER, { a: "1" }), { a: "1" });
    assert.deepEqual(authorizeParamsFor(ENTRA, {}), {});
  });

  test("sendsResource: --no-resource always wins; Entra never gets it; others get it", () => {
    assert.equal(sendsResource(true, OTHER), true);
    assert.equal(sendsResource(true, GOOGLE), true);
    assert.equal(sendsResource(true, ENTRA), false);
    assert.equal(sendsResource(false, OTHER), false);
    assert.equal(sendsResource(true, undefined), true);
  });
});

function providerFor(issuer: string, host: Partial<FlowHost> = {}): FlowProvider {
  const fullHost = {
    serverUrl: MCP,
    clientMetadata: { redirect_uris: ["http://127.0.0.1:8000/oauth/callback"] },
    clientMetadataUrl: undefined,
    sendResource: true,
    authorizeParams: {},
    issuers: issuerCheck({ serverUrl: MCP, log: silentLogger }),
    checkPkce: () => {},
    ...host,
  } as FlowHost;
  const flow: PendingFlow = {
    state: "s",
    redirectUri: "http://127.0.0.1:8000/oauth/callback",
    scope: undefined,
    discovery: {
      authorizationServerUrl: issuer,
      authorizationServerMetadata: { issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: "t" },
    } as unknown as OAuthDiscoveryState,
    startedAt: 0,
    expiresAt: 1,
  };
  return new FlowProvider(fullHost, flow);
}

describe("the sign-in's SDK provider", () => {
  test("Google: the authorization URL asks for offline access and consent; the user's prompt wins", () => {
    const plain = providerFor(GOOGLE);
    plain.redirectToAuthorization(new URL(`${GOOGLE}/o/oauth2/v2/auth?client_id=c&state=s`));
    const url = new URL(plain.flow.authorizationUrl!);
    assert.equal(url.searchParams.get("access_type"), "offline");
    assert.equal(url.searchParams.get("prompt"), "consent");
    assert.equal(url.searchParams.get("state"), "s");

    const own = providerFor(GOOGLE, { authorizeParams: { prompt: "select_account" } });
    own.redirectToAuthorization(new URL(`${GOOGLE}/o/oauth2/v2/auth?client_id=c`));
    assert.equal(new URL(own.flow.authorizationUrl!).searchParams.get("prompt"), "select_account");
  });

  test("another server's authorization URL gets only the user's parameters", () => {
    const other = providerFor(OTHER, { authorizeParams: { audience: "api" } });
    other.redirectToAuthorization(new URL(`${OTHER}/authorize?client_id=c`));
    const url = new URL(other.flow.authorizationUrl!);
    assert.equal(url.searchParams.get("audience"), "api");
    assert.equal(url.searchParams.get("access_type"), null);
    assert.equal(url.searchParams.get("prompt"), null);
  });

  test("Entra or --no-resource: the SDK is told to send no resource, and a foreign resource is still refused", async () => {
    assert.equal(providerFor(OTHER).validateResourceURL, undefined, "the SDK's own resource handling");
    for (const provider of [providerFor(ENTRA), providerFor(OTHER, { sendResource: false })]) {
      const validate = provider.validateResourceURL;
      assert.ok(validate);
      assert.equal(await validate(MCP, MCP), undefined);
      await assert.rejects(validate(MCP, "https://elsewhere.example/mcp"), (error: unknown) =>
        isProxyError(error, "RESOURCE_MISMATCH"),
      );
    }
  });
});

describe("providerAdjustments (what status says the defaults change)", () => {
  test("what is in effect, as the user's options leave it", () => {
    const none = { authorizeParams: {}, sendResource: true };
    assert.deepEqual(providerAdjustments(GOOGLE, none), [
      "Google: sign-ins add access_type=offline prompt=consent (for a refresh token)",
    ]);
    assert.deepEqual(providerAdjustments(GOOGLE, { authorizeParams: { PROMPT: "none" }, sendResource: true }), [
      "Google: sign-ins add access_type=offline (for a refresh token)",
    ]);
    assert.deepEqual(
      providerAdjustments(GOOGLE, { authorizeParams: { prompt: "x", access_type: "online" }, sendResource: true }),
      [],
    );
    assert.deepEqual(providerAdjustments(ENTRA, none), [
      "Microsoft Entra ID: no RFC 8707 resource parameter (the server rejects it)",
    ]);
    // --no-resource: the user's own choice, not an adjustment.
    assert.deepEqual(providerAdjustments(ENTRA, { authorizeParams: {}, sendResource: false }), []);
    assert.deepEqual(providerAdjustments(ENTRA, { authorizeParams: {}, sendResource: false }, true), [
      "Microsoft Entra ID: PKCE S256, which it supports without listing it in its metadata",
    ]);
    assert.deepEqual(providerAdjustments("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x", none, true), [
      "Amazon Cognito: PKCE S256, which it supports without listing it in its metadata",
    ]);
    assert.deepEqual(
      providerAdjustments(GOOGLE, { authorizeParams: { prompt: "x", access_type: "y" }, sendResource: true }, true),
      [],
    );
    assert.deepEqual(providerAdjustments(OTHER, none), []);
    assert.deepEqual(providerAdjustments(undefined, none), []);
  });
});
