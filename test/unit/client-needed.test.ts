// An authorization server without dynamic registration: the SDK's plain Error becomes REGISTRATION_FAILED with the
// redirect URI to register and, for GitHub, Google, Entra and Slack, where to register it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { clientNeeded, isNoRegistrationError } from "../../src/auth/client-needed.ts";
import { toProxyError } from "../../src/auth/oauth-errors.ts";
import { exitCodeFor } from "../../src/cli/exit-codes.ts";
import { isProxyError } from "../../src/lib/errors.ts";

const MCP = "https://mcp.example.com/mcp";
const REDIRECT = "http://127.0.0.1:8000/oauth/callback";
const SDK_ERROR = new Error("Incompatible auth server: does not support dynamic client registration");

test("the SDK's error is recognised, and mapped even where the redirect URI is not known", () => {
  assert.equal(isNoRegistrationError(SDK_ERROR), true);
  assert.equal(isNoRegistrationError(new Error("something else")), false);
  assert.equal(isNoRegistrationError("does not support dynamic client registration"), false);
  const mapped = toProxyError(SDK_ERROR, MCP);
  assert.ok(isProxyError(mapped, "REGISTRATION_FAILED"));
  assert.match(mapped.hint ?? "", /--client-id ID/);
  assert.equal(exitCodeFor(mapped.code), 5);
});

test("the hint names the redirect URI and, for the big providers, where to register and whether a secret is needed", () => {
  const cases: Array<[string | undefined, RegExp | undefined]> = [
    ["https://github.com/login/oauth", /github\.com\/settings\/applications\/new.*--client-secret/],
    ["https://accounts.google.com", /Desktop app.*console\.cloud\.google\.com.*--client-secret/],
    ["https://login.microsoftonline.com/t/v2.0", /App registrations.*entra\.microsoft\.com/],
    ["https://slack.com", /api\.slack\.com\/apps.*Model Context Protocol.*User Token Scopes/],
    ["https://mcp.slack.com", /api\.slack\.com\/apps/],
    ["https://acme.okta.com/oauth2/default", /Okta Admin Console.*Native Application/],
    ["https://acme.eu.auth0.com/", /Auth0 Dashboard.*Native.*Dynamic Client Registration/],
    ["https://dbc-1234.cloud.databricks.com/oidc", /App connections.*all-apis/],
    ["https://adb-1234.5.azuredatabricks.net/oidc", /App connections/],
    ["https://1234.5.gcp.databricks.com/oidc", /App connections/],
    ["https://databricks.com.evil.example/oidc", undefined],
    ["https://as.example.com", undefined],
    [undefined, undefined],
  ];
  for (const [issuer, where] of cases) {
    const error = clientNeeded(MCP, issuer, REDIRECT);
    assert.equal(error.code, "REGISTRATION_FAILED");
    if (issuer) assert.ok(error.message.includes(issuer), error.message);
    const hint = error.hint ?? "";
    assert.ok(hint.includes(`with the redirect URI ${REDIRECT}`), hint);
    if (where) assert.match(hint, where);
    else assert.doesNotMatch(hint, /github|google|entra|slack|okta|auth0|databricks/i);
  }
  assert.doesNotMatch(clientNeeded(MCP, undefined, undefined).hint ?? "", /redirect URI/);
});
