import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { assertStoreKey, canonicalServerUrl, storeKey } from "../../src/store/store-key.ts";

describe("canonicalServerUrl", () => {
  const cases: [string, string][] = [
    ["https://mcp.example.com/mcp", "https://mcp.example.com/mcp"],
    ["HTTPS://MCP.Example.COM/mcp", "https://mcp.example.com/mcp"],
    ["https://mcp.example.com:443/mcp", "https://mcp.example.com/mcp"],
    ["http://127.0.0.1:80/mcp", "http://127.0.0.1/mcp"],
    ["https://mcp.example.com:8443/mcp", "https://mcp.example.com:8443/mcp"],
    ["http://localhost:443/mcp", "http://localhost:443/mcp"],
    ["https://mcp.example.com/", "https://mcp.example.com"],
    ["https://mcp.example.com", "https://mcp.example.com"],
    ["https://mcp.example.com/mcp/", "https://mcp.example.com/mcp"],
    ["https://mcp.example.com/mcp//", "https://mcp.example.com/mcp"],
    ["https://mcp.example.com/mcp#section", "https://mcp.example.com/mcp"],
    ["https://mcp.example.com/#", "https://mcp.example.com"],
    ["https://mcp.example.com/mcp?tenant=A&x=1", "https://mcp.example.com/mcp?tenant=A&x=1"],
    ["https://mcp.example.com/?tenant=a", "https://mcp.example.com?tenant=a"],
    ["https://mcp.example.com/Server/MCP", "https://mcp.example.com/Server/MCP"],
    ["https://mcp.example.com/a/../mcp", "https://mcp.example.com/mcp"],
    ["  https://mcp.example.com/mcp  ", "https://mcp.example.com/mcp"],
    ["https://[::1]:3000/mcp", "https://[::1]:3000/mcp"],
    ["https://bücher.example/mcp", "https://xn--bcher-kva.example/mcp"],
  ];
  for (const [input, expected] of cases) {
    test(`${input} → ${expected}`, () => {
      assert.equal(canonicalServerUrl(input), expected);
      assert.equal(canonicalServerUrl(expected), expected, "idempotent");
    });
  }

  const rejected: [string, RegExp][] = [
    ["mcp.example.com/mcp", /not an absolute URL/],
    ["", /not an absolute URL/],
    ["ftp://mcp.example.com/mcp", /"ftp:"; only https and http/],
    ["file:///etc/passwd", /"file:"/],
    ["javascript:alert(1)", /"javascript:"/],
    ["ws://mcp.example.com/mcp", /"ws:"/],
    ["https://user:hunter2@mcp.example.com/mcp", /user name or password/],
    ["https://user@mcp.example.com/mcp", /user name or password/],
    ["https://:hunter2@mcp.example.com/mcp", /user name or password/],
  ];
  for (const [input, message] of rejected) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => canonicalServerUrl(input),
        (error: unknown) => {
          assert.ok(isProxyError(error, "INVALID_URL"), String(error));
          assert.match(error.message, message);
          assert.ok(error.hint, "has a hint");
          assert.doesNotMatch(error.message, /hunter2/, "never echoes a password");
          return true;
        },
      );
    });
  }

  test("a password in an unparsable URL is masked in the message", () => {
    assert.throws(
      () => canonicalServerUrl("https://user:hunter2@exa mple.com/"),
      (error: unknown) => isProxyError(error, "INVALID_URL") && !error.message.includes("hunter2"),
    );
  });
});

describe("storeKey", () => {
  test("is 32 lowercase hex characters and a valid store key", () => {
    const key = storeKey("https://mcp.example.com/mcp");
    assert.match(key, /^[0-9a-f]{32}$/);
    assert.doesNotThrow(() => assertStoreKey(key));
  });

  test("is stable: pinned values (changing these signs every user out)", () => {
    // Computed outside Node: printf '%s' 'https://mcp.example.com/mcp' | sha256sum | cut -c1-32
    assert.equal(storeKey("https://mcp.example.com/mcp"), "7a930d27a3f5c4643da88c1794444840");
    // printf '%s' '{"url":"https://mcp.example.com/mcp","client_id":"my-client","client_metadata_url":null}' | sha256sum
    assert.equal(
      storeKey("https://mcp.example.com/mcp", { clientId: "my-client" }),
      "3067921d8b4b5553cd3f6abdef780bbe",
    );
  });

  test("equivalent spellings of the URL share a key", () => {
    const key = storeKey("https://mcp.example.com/mcp");
    for (const spelling of [
      "HTTPS://MCP.EXAMPLE.COM/mcp",
      "https://mcp.example.com:443/mcp",
      "https://mcp.example.com/mcp/",
      "https://mcp.example.com/mcp#x",
    ]) {
      assert.equal(storeKey(spelling), key, spelling);
    }
  });

  test("different servers, paths, queries and client identities get different keys", () => {
    const keys = [
      storeKey("https://mcp.example.com/mcp"),
      storeKey("https://mcp.example.com/MCP"),
      storeKey("https://mcp.example.com/mcp?tenant=a"),
      storeKey("https://mcp.example.com:8443/mcp"),
      storeKey("http://mcp.example.com/mcp"),
      storeKey("https://other.example.com/mcp"),
      storeKey("https://mcp.example.com/mcp", { clientId: "a" }),
      storeKey("https://mcp.example.com/mcp", { clientId: "b" }),
      storeKey("https://mcp.example.com/mcp", { clientMetadataUrl: "https://app.example/client.json" }),
      storeKey("https://mcp.example.com/mcp", { clientId: "a", clientMetadataUrl: "https://app.example/client.json" }),
    ];
    assert.equal(new Set(keys).size, keys.length);
  });

  test("empty identity parts count as absent", () => {
    const plain = storeKey("https://mcp.example.com/mcp");
    assert.equal(storeKey("https://mcp.example.com/mcp", {}), plain);
    assert.equal(storeKey("https://mcp.example.com/mcp", { clientId: "", clientMetadataUrl: undefined }), plain);
  });

  test("rejects what canonicalServerUrl rejects", () => {
    assert.throws(
      () => storeKey("ftp://x.example/"),
      (e: unknown) => isProxyError(e, "INVALID_URL"),
    );
  });
});

describe("assertStoreKey", () => {
  for (const bad of ["", "../etc", "a/b", "a_b", "a.b", "x".repeat(65), "a\nb", "ключ"]) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => assertStoreKey(bad),
        (e: unknown) => isProxyError(e, "INTERNAL"),
      );
    });
  }
  test("accepts letters, digits and dashes", () => {
    assert.doesNotThrow(() => assertStoreKey("Test-key-01"));
  });
});
