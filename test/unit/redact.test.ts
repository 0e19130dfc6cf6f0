import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, test } from "node:test";
import { type FlowHost, FlowProvider } from "../../src/auth/flow-provider.ts";
import { ProxyError } from "../../src/lib/errors.ts";
import { forgetRememberedSecrets, MAX_REMEMBERED_SECRETS, MIN_SECRET_LENGTH } from "../../src/lib/known-secrets.ts";
import { createLogger } from "../../src/lib/logger.ts";
import {
  maskKnownSecrets,
  redact,
  redactText,
  rememberHeaderSecrets,
  rememberSecret,
  rememberSecretsIn,
} from "../../src/lib/redact.ts";
import { jsonRpcErrorOf } from "../../src/proxy/relay-errors.ts";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { STORE_VERSION } from "../../src/store/token-store.ts";

test("masks bearer and basic credentials, JWTs and secret query parameters in free text", () => {
  const jwt = `eyJhbGciOiJSUzI1NiJ9.${"eyJzdWIiOiJhbGljZSJ9"}.c2lnbmF0dXJlLXNpZ25hdHVyZQ`;
  const text = redactText(`Authorization: Bearer abc.def-123 and Basic dXNlcjpwYXNz, token ${jwt}`);
  assert.doesNotMatch(text, /abc\.def-123|dXNlcjpwYXNz|eyJhbGci/);
  assert.equal(redactText("/cb?code=SECRET&state=S1&iss=x"), "/cb?code=[redacted]&state=[redacted]&iss=x");
  assert.doesNotMatch(redactText('{"refresh_token":"r-123","x":1}'), /r-123/);
});

test("leaves scope lists alone (mcp:basic is a scope, not a Basic credential)", () => {
  assert.equal(redactText("scope mcp:basic mcp:write"), "scope mcp:basic mcp:write");
});

test("masks secret-named keys at any depth", () => {
  const out = redact({ headers: { Authorization: "Bearer x" }, tokens: { access_token: "a", scope: "s" } });
  assert.deepEqual(out, {
    headers: { Authorization: "[redacted]" },
    tokens: { access_token: "[redacted]", scope: "s" },
  });
});

describe("secrets the process holds, masked by value", () => {
  beforeEach(() => forgetRememberedSecrets());

  // Opaque (no JWT shape), with characters that JSON, URL and base64 encodings all change.
  const token = 'opaque/tok+en"é 1234567890abcdef';

  test("a remembered token is masked raw, JSON-escaped, percent- and form-encoded, base64 and base64url", () => {
    rememberSecret(token);
    const bytes = Buffer.from(token);
    const shapes = [
      `upstream said: ${token} (end)`,
      JSON.stringify({ error: { message: `bad token ${token}` } }),
      JSON.stringify(token).replaceAll("/", "\\/"),
      `/cb?t=${encodeURIComponent(token)}&x=1`,
      `t=${encodeURIComponent(token).toLowerCase()}`,
      new URLSearchParams({ t: token }).toString(),
      `b64 ${bytes.toString("base64")} / url ${bytes.toString("base64url")}`,
      // Inside a longer base64 text, at each byte offset.
      Buffer.concat([Buffer.from("x"), bytes, Buffer.from("tail")]).toString("base64"),
      Buffer.concat([Buffer.from("xy"), bytes, Buffer.from("tail")]).toString("base64url"),
      Buffer.concat([Buffer.from("xyz"), bytes]).toString("base64"),
    ];
    // Any 8 characters in a row of the token's encodings (base64 at each byte offset: the groups of its bytes only).
    const encodings = [token, JSON.stringify(token), encodeURIComponent(token)];
    for (const shift of [0, 1, 2]) {
      const b64 = Buffer.concat([Buffer.alloc(shift), bytes]).toString("base64");
      const inner = b64.slice(shift ? 4 : 0, Math.floor((shift + bytes.length) / 3) * 4);
      encodings.push(inner, inner.replaceAll("+", "-").replaceAll("/", "_"));
    }
    const windows = encodings.flatMap((e) => Array.from({ length: e.length - 7 }, (_, i) => e.slice(i, i + 8)));
    for (const shape of shapes) {
      const masked = redactText(shape);
      assert.match(masked, /\[redacted\]/, shape);
      const leak = windows.find((window) => masked.includes(window));
      assert.equal(leak, undefined, `${masked} still holds ${leak}`);
    }
    assert.equal(redactText(`a ${token} b`), "a [redacted] b");
  });

  test("values shorter than the minimum are not remembered, and other text is left alone", () => {
    rememberSecret("short");
    rememberSecret("x".repeat(MIN_SECRET_LENGTH - 1));
    rememberSecret(undefined);
    assert.equal(redactText("a short word xxxxxxx"), "a short word xxxxxxx");
    rememberSecret(token);
    assert.equal(redactText("nothing secret here, 1234567"), "nothing secret here, 1234567");
  });

  test("the registry keeps only the most recent values", () => {
    const values = Array.from({ length: MAX_REMEMBERED_SECRETS + 1 }, (_, i) => `secret-value-${i}-padding`);
    for (const value of values) rememberSecret(value);
    assert.equal(redactText(values[0] as string), values[0], "the oldest was dropped");
    assert.equal(redactText(values[1] as string), "[redacted]");
    assert.equal(redactText(values[MAX_REMEMBERED_SECRETS] as string), "[redacted]");
    // Remembering again makes a value the most recent: it survives the next one.
    rememberSecret(values[1]);
    rememberSecret("one-more-secret-value");
    assert.equal(redactText(values[1] as string), "[redacted]");
    assert.equal(redactText(values[2] as string), values[2]);
  });

  test("records, OAuth responses and static credential headers register their secrets", () => {
    rememberSecretsIn({
      tokens: { access_token: "access-aaaaaaaa", refresh_token: "refresh-bbbbbbbb", scope: "mcp:read mcp:write" },
      client: { client_id: "client-id-public", client_secret: "secret-cccccccc" },
    });
    rememberHeaderSecrets({
      Authorization: "Bearer header-dddddddd",
      "X-Api-Key": "key-eeeeeeee",
      Accept: "application/json",
    });
    const text = redactText(
      "access-aaaaaaaa refresh-bbbbbbbb secret-cccccccc header-dddddddd key-eeeeeeee client-id-public mcp:read mcp:write application/json",
    );
    assert.equal(
      text,
      "[redacted] [redacted] [redacted] [redacted] [redacted] client-id-public mcp:read mcp:write application/json",
    );
  });

  test("a text cut inside a secret has the secret's start masked (truncated snippets)", () => {
    rememberSecret(token);
    const cut = `denied for ${token.slice(0, 12)}`;
    assert.equal(maskKnownSecrets(cut, { truncated: true }), "denied for [redacted]");
    assert.equal(maskKnownSecrets(cut), cut, "only when the caller says the text was cut");
  });

  test("log lines, ProxyError messages and the JSON-RPC errors built from them carry no remembered secret", () => {
    rememberSecret(token);
    const lines: string[] = [];
    createLogger({ level: "debug", write: (line) => lines.push(line) }).warn(`echo ${token}`, { body: token });
    assert.equal(lines.join(""), 'mcp-u2m-proxy: warn: echo [redacted] {"body":"[redacted]"}\n');
    const error = new ProxyError("UPSTREAM_ERROR", `The upstream said ${token}`, {
      hint: `Not ${token}.`,
      details: { signInUrl: "https://as.example/authorize?state=s-123456789&x=1", echoed: [token] },
    });
    assert.equal(error.message, "The upstream said [redacted]");
    const rpc = jsonRpcErrorOf(error);
    assert.doesNotMatch(JSON.stringify(rpc), /1234567890/);
    assert.equal(
      rpc.data.signInUrl,
      "https://as.example/authorize?state=s-123456789&x=1",
      "the sign-in URL stays usable",
    );
  });
});

test("tokens and client secrets read from either store are remembered (a later process loads them from disk)", async () => {
  forgetRememberedSecrets();
  const dir = mkdtempSync(join(tmpdir(), "redact-store-"));
  try {
    const record = (access: string) => ({
      version: STORE_VERSION,
      server_url: "https://mcp.example.com/mcp",
      issuer: "https://as.example.com",
      tokens: { access_token: access, token_type: "Bearer", refresh_token: `${access}-refresh` },
      obtained_at: 0,
    });
    // Written by another process: this one has not seen the values before it reads them.
    writeFileSync(join(dir, "k1_tokens.json"), JSON.stringify(record("file-access-11111111")), { mode: 0o600 });
    assert.equal(redactText("file-access-11111111"), "file-access-11111111");
    await new FileTokenStore({ dir }).read("k1", "tokens");
    const memory = new MemoryTokenStore();
    await memory.write("k1", "tokens", record("memory-access-22222222"));
    forgetRememberedSecrets();
    await memory.read("k1", "tokens");
    assert.equal(redactText("memory-access-22222222 memory-access-22222222-refresh"), "[redacted] [redacted]");
    await new FileTokenStore({ dir }).read("k1", "tokens");
    assert.equal(redactText("file-access-11111111-refresh"), "[redacted]");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an OAuth flow's PKCE verifier, client secret and tokens are remembered as the SDK hands them over", async () => {
  forgetRememberedSecrets();
  const host = {
    serverUrl: "https://mcp.example.com/mcp",
    clientMetadata: { redirect_uris: ["http://localhost:8000/oauth/callback"] },
    clientMetadataUrl: undefined,
    sendResource: true,
    authorizeParams: {},
    saveClientInfo: async () => {},
    saveTokens: async () => {},
  } as unknown as FlowHost;
  const flow = {
    state: "s",
    redirectUri: "http://localhost:8000/oauth/callback",
    scope: undefined,
    startedAt: 0,
    expiresAt: 1,
  };
  const provider = new FlowProvider(host, flow);
  provider.saveCodeVerifier("verifier-3333333333333333");
  await provider.saveClientInformation({ client_id: "public-client-id", client_secret: "client-secret-44444444" });
  await provider.saveTokens({
    access_token: "flow-access-55555555",
    token_type: "Bearer",
    refresh_token: "flow-refresh-66666666",
  });
  assert.equal(
    redactText(
      "verifier-3333333333333333 client-secret-44444444 flow-access-55555555 flow-refresh-66666666 public-client-id",
    ),
    "[redacted] [redacted] [redacted] [redacted] public-client-id",
  );
});
