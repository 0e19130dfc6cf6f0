import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import {
  assertRecordKey,
  assertStoreKey,
  assertUpstreamKey,
  canonicalServerUrl,
  grantKey,
  isPrincipalGrantKey,
  storeKey,
  upstreamKeyOf,
} from "../../src/store/store-key.ts";

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

describe("grantKey", () => {
  const upstream = storeKey("https://mcp.example.com/mcp");

  test("without a principal it is the upstream key itself (the single-user layout is unchanged)", () => {
    assert.equal(grantKey(upstream), upstream);
    assert.equal(grantKey(upstream, ""), upstream);
    assert.equal(isPrincipalGrantKey(upstream), false);
    assert.equal(upstreamKeyOf(upstream), upstream);
  });

  test("with a principal: <upstream key>.u<16 hex>, pinned, a valid store key naming its upstream", () => {
    const key = grantKey(upstream, "alice@example.com");
    // printf 'grant\0%s\0%s' 7a930d27a3f5c4643da88c1794444840 alice@example.com | sha256sum | cut -c1-16
    assert.equal(key, `${upstream}.u98489ed53fe5a7d5`);
    assert.equal(isPrincipalGrantKey(key), true);
    assert.equal(upstreamKeyOf(key), upstream);
    assert.doesNotThrow(() => assertStoreKey(key));
    assert.throws(
      () => assertUpstreamKey(key),
      (e: unknown) => isProxyError(e, "INTERNAL"),
    );
  });

  test("never shows the principal, and is safe in a file name whatever the principal is", () => {
    for (const principal of [
      "alice@example.com",
      "../../etc/passwd",
      "a_b",
      "a/b\\c",
      "ключ",
      "x".repeat(5000),
      "\n",
    ]) {
      const key = grantKey(upstream, principal);
      assert.match(key, /^[0-9a-f]{32}\.u[0-9a-f]{16}$/, principal.slice(0, 20));
      assert.ok(!key.includes("alice") && !key.includes("/") && !key.includes("_"));
    }
  });

  test("distinct per principal, and per upstream for the same principal", () => {
    const other = storeKey("https://other.example.com/mcp");
    const keys = [
      grantKey(upstream, "alice"),
      grantKey(upstream, "bob"),
      grantKey(upstream, "Alice"),
      grantKey(other, "alice"),
    ];
    assert.equal(new Set(keys).size, keys.length);
    // The suffix alone does not tell that two upstreams' grants are the same person's.
    assert.notEqual(keys[0]!.split(".")[1], keys[3]!.split(".")[1]);
  });

  test("refuses an upstream key that is not one (a grant key, or garbage)", () => {
    for (const bad of [grantKey(upstream, "alice"), "", "a/b", "a_b"]) {
      assert.throws(
        () => grantKey(bad, "bob"),
        (e: unknown) => isProxyError(e, "INTERNAL"),
        bad,
      );
    }
  });

  test("grant keys hold tokens only: client_info and discovery are the upstream's", () => {
    const key = grantKey(upstream, "alice");
    assert.doesNotThrow(() => assertRecordKey(key, "tokens"));
    for (const kind of ["client_info", "discovery"] as const) {
      assert.doesNotThrow(() => assertRecordKey(upstream, kind));
      assert.throws(
        () => assertRecordKey(key, kind),
        (e: unknown) => isProxyError(e, "INTERNAL") && /belongs to the upstream key/.test(e.message),
      );
    }
  });

  for (const bad of [
    `${"a".repeat(32)}.u0123`,
    `${"a".repeat(32)}.u0123456789ABCDEF`,
    `${"a".repeat(32)}.x0123456789abcdef`,
    ".u0123456789abcdef",
    `${"a".repeat(32)}.u0123456789abcdef.u0123456789abcdef`,
  ]) {
    test(`assertStoreKey rejects the near-grant ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => assertStoreKey(bad),
        (e: unknown) => isProxyError(e, "INTERNAL"),
      );
    });
  }
});
