// PKCE support must be verified from the authorization server metadata before anything is sent to the AS
// (MCP authorization, "Authorization Code Protection"). The AS here is an injected fetch that counts requests.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { missingPkceSupport, pkceSupportCheck } from "../../src/auth/pkce-support.ts";
import { UpstreamAuth } from "../../src/auth/upstream-auth.ts";
import type { RuntimeOptions, UpstreamOptions } from "../../src/config/options.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { createLogger } from "../../src/lib/logger.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";

const MCP_URL = "https://mcp.example.com/mcp";
const ISSUER = "https://as.example.com";

function asMetadata(pkce: { methods?: string[] }): Record<string, unknown> {
  return {
    issuer: ISSUER,
    authorization_endpoint: `${ISSUER}/authorize`,
    token_endpoint: `${ISSUER}/token`,
    registration_endpoint: `${ISSUER}/register`,
    response_types_supported: ["code"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    token_endpoint_auth_methods_supported: ["none"],
    ...(pkce.methods ? { code_challenge_methods_supported: pkce.methods } : {}),
  };
}

/** An MCP server's resource metadata and an AS, answering from memory; records every request path. */
function fakeNetwork(metadata: Record<string, unknown> | undefined) {
  const requests: string[] = [];
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const fetchFn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    requests.push(`${method} ${url.origin}${url.pathname}`);
    if (url.origin === "https://mcp.example.com" && url.pathname.startsWith("/.well-known/oauth-protected-resource")) {
      return json({ resource: MCP_URL, authorization_servers: [ISSUER] });
    }
    if (url.origin === ISSUER && url.pathname === "/.well-known/oauth-authorization-server" && metadata) {
      return json(metadata);
    }
    if (url.origin === ISSUER && url.pathname === "/register" && method === "POST") {
      const sent = JSON.parse(String(init?.body)) as Record<string, unknown>;
      return json({ ...sent, client_id: "client-1" }, 201);
    }
    return new Response("not found", { status: 404 });
  };
  return { fetchFn, requests, registrations: () => requests.filter((r) => r.endsWith("/register")).length };
}

function setUp(metadata: Record<string, unknown> | undefined, upstream: Partial<UpstreamOptions> = {}) {
  const network = fakeNetwork(metadata);
  const warnings: string[] = [];
  const shown: string[] = [];
  const runtime: RuntimeOptions = {
    authDir: "memory",
    port: 0,
    callbackHost: "127.0.0.1",
    openBrowser: true,
    debug: false,
    allowInsecureHttp: false,
  };
  const auth = new UpstreamAuth(
    { url: MCP_URL, authorizeParams: {}, headers: {}, sendResource: true, ...upstream },
    runtime,
    {
      store: new MemoryTokenStore(),
      callback: "external",
      fetch: network.fetchFn,
      logger: createLogger({ level: "warn", write: (line) => void warnings.push(line) }),
      // Printing and opening the authorization URL are what "an authorization request" means for us.
      printSignInUrl: (url) => void shown.push(`printed ${url}`),
      openUrl: async (url) => void shown.push(`opened ${url}`),
    },
  );
  return { auth, network, warnings, shown };
}

function isPkceRefusal(error: unknown): boolean {
  return isProxyError(error, "PKCE_UNSUPPORTED");
}

describe("PKCE S256 support is verified before registration or authorization", () => {
  test("metadata without code_challenge_methods_supported: refused, no registration, no authorization request", async () => {
    const { auth, network, shown } = setUp(asMetadata({}));
    try {
      await assert.rejects(auth.startSignIn(), (error: unknown) => {
        assert.ok(isPkceRefusal(error), String(error));
        const { message, hint } = error as { message: string; hint: string };
        assert.match(message, new RegExp(`${ISSUER}.*code_challenge_methods_supported`));
        assert.match(hint, /--allow-pkce-unverified/);
        return true;
      });
      assert.ok(
        network.requests.some((r) => r.endsWith("/.well-known/oauth-authorization-server")),
        "discovered",
      );
      assert.equal(network.registrations(), 0, "no registration request");
      assert.deepEqual(shown, [], "no authorization URL printed or opened");
    } finally {
      await auth.close();
    }
  });

  test('a list with only "plain": refused, even with --allow-pkce-unverified', async () => {
    for (const allowPkceUnverified of [false, true]) {
      const { auth, network, shown } = setUp(asMetadata({ methods: ["plain"] }), { allowPkceUnverified });
      try {
        await assert.rejects(auth.startSignIn(), (error: unknown) => {
          assert.ok(isPkceRefusal(error), String(error));
          assert.match((error as Error).message, /\["plain"\] without S256/);
          return true;
        });
        assert.equal(network.registrations(), 0, "no registration request");
        assert.deepEqual(shown, []);
      } finally {
        await auth.close();
      }
    }
  });

  test("no authorization server metadata at all: refused", async () => {
    const { auth, network, shown } = setUp(undefined);
    try {
      await assert.rejects(auth.startSignIn(), isPkceRefusal);
      assert.equal(network.registrations(), 0);
      assert.deepEqual(shown, []);
    } finally {
      await auth.close();
    }
  });

  test("with --allow-pkce-unverified: proceeds with S256 and warns once", async () => {
    const { auth, network, warnings, shown } = setUp(asMetadata({}), { allowPkceUnverified: true });
    try {
      const first = await auth.startSignIn();
      assert.equal(new URL(first.url).searchParams.get("code_challenge_method"), "S256");
      assert.equal(network.registrations(), 1);
      await auth.close(); // abandons the first sign-in, so the next one discovers again
      await auth.startSignIn();
      assert.equal(shown.filter((line) => line.startsWith("opened ")).length, 2, "both sign-ins opened their URL");
      const pkceWarnings = warnings.filter((line) => /--allow-pkce-unverified/.test(line));
      assert.equal(pkceWarnings.length, 1, warnings.join(""));
      assert.match(pkceWarnings[0]!, new RegExp(`warn: .*${ISSUER}.*code_challenge_methods_supported`));
    } finally {
      await auth.close();
    }
  });

  test('with ["S256"]: proceeds without a warning', async () => {
    const { auth, network, warnings } = setUp(asMetadata({ methods: ["plain", "S256"] }));
    try {
      const handle = await auth.startSignIn();
      const url = new URL(handle.url);
      assert.equal(url.origin + url.pathname, `${ISSUER}/authorize`);
      assert.equal(url.searchParams.get("code_challenge_method"), "S256");
      assert.equal(network.registrations(), 1);
      assert.deepEqual(warnings, []);
    } finally {
      await auth.close();
    }
  });

  test("missingPkceSupport names what is missing", () => {
    assert.equal(missingPkceSupport({ ...asMetadata({ methods: ["S256"] }) } as never), undefined);
    assert.match(missingPkceSupport(asMetadata({}) as never) ?? "", /does not list code_challenge_methods_supported/);
    assert.match(missingPkceSupport(asMetadata({ methods: [] }) as never) ?? "", /\[\] without S256/);
    assert.match(missingPkceSupport(undefined) ?? "", /no authorization server metadata/);
  });

  test("Entra and Cognito list no PKCE methods but support S256: accepted with one info line; look-alikes are not", () => {
    const lines: string[] = [];
    const check = pkceSupportCheck({
      serverUrl: MCP_URL,
      allowUnverified: false,
      log: createLogger({ level: "info", write: (line) => void lines.push(line) }),
    });
    const stateAt = (issuer: string, methods?: string[]) =>
      ({
        authorizationServerUrl: issuer,
        authorizationServerMetadata: { ...asMetadata({ methods }), issuer },
      }) as never;
    const entra = "https://login.microsoftonline.com/2f4a9c1e-0000-4000-8000-000000000001/v2.0";
    const cognito = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123";
    check(stateAt(entra));
    check(stateAt(entra));
    check(stateAt(cognito));
    assert.equal(lines.length, 2, lines.join(""));
    assert.match(lines[0]!, /Microsoft Entra ID supports PKCE S256 without listing it/);
    assert.match(lines[1]!, /Amazon Cognito/);
    const refused = (state: never) =>
      assert.throws(
        () => check(state),
        (error: unknown) => isProxyError(error, "PKCE_UNSUPPORTED"),
      );
    // A list without S256 is the server saying so; a look-alike host or plain http is not Entra.
    refused(stateAt(cognito, ["plain"]));
    refused(stateAt("https://login.microsoftonline.com.evil.example/t/v2.0"));
    refused(stateAt("http://login.microsoftonline.com/t/v2.0"));
    refused(stateAt("https://cognito-idp.eu-west-1.amazonaws.com.evil.example/pool"));
  });
});
