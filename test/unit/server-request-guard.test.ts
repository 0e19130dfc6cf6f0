import assert from "node:assert/strict";
import { hostname } from "node:os";
import { describe, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { assertBindAllowed, hostnameOf, RequestGuard } from "../../src/server/request-guard.ts";

describe("hostnameOf", () => {
  test("strips ports and brackets, lower-cases", () => {
    assert.equal(hostnameOf("LocalHost:8000"), "localhost");
    assert.equal(hostnameOf("[::1]:8000"), "::1");
    assert.equal(hostnameOf("[::1]"), "::1");
    assert.equal(hostnameOf("127.0.0.1"), "127.0.0.1");
    assert.equal(hostnameOf("evil.example:80"), "evil.example");
  });
});

describe("Host validation (DNS rebinding)", () => {
  const guard = new RequestGuard({ bindHost: "127.0.0.1" });

  test("accepts loopback names on any port", () => {
    for (const host of [
      "127.0.0.1:8000",
      "localhost:8000",
      "localhost",
      "[::1]:8000",
      "127.0.0.2:1",
      "app.localhost",
    ]) {
      assert.equal(guard.isHostAllowed(host), true, host);
    }
  });

  test("refuses foreign and missing Host headers", () => {
    for (const host of ["evil.example:8000", "evil.example", "192.168.1.10:8000", "127.0.0.1.evil.example", ""]) {
      assert.equal(guard.isHostAllowed(host), false, host);
    }
    assert.equal(guard.isHostAllowed(undefined), false);
  });

  test("accepts configured hosts and the bound address", () => {
    const bound = new RequestGuard({ bindHost: "10.1.2.3", apiKey: "k", allowHosts: ["proxy.example.com"] });
    assert.equal(bound.isHostAllowed("10.1.2.3:8000"), true);
    assert.equal(bound.isHostAllowed("PROXY.example.com"), true);
    assert.equal(bound.isHostAllowed("other.example.com"), false);
  });

  test("bound to all interfaces, accepts this machine's own name", () => {
    const all = new RequestGuard({ bindHost: "0.0.0.0", apiKey: "k" });
    assert.equal(all.isHostAllowed(`${hostname()}:8000`), true);
    assert.equal(all.isHostAllowed("evil.example"), false);
  });
});

describe("Origin validation", () => {
  const guard = new RequestGuard({ bindHost: "127.0.0.1", allowOrigins: ["https://app.example.com/"] });

  test("no Origin (non-browser clients) is fine", () => {
    assert.equal(guard.isOriginAllowed(undefined), true);
  });

  test("loopback origins on any port and scheme are fine", () => {
    for (const origin of ["http://localhost:6274", "http://127.0.0.1:8000", "https://localhost", "http://[::1]:3000"]) {
      assert.equal(guard.isOriginAllowed(origin), true, origin);
    }
  });

  test("configured origins match exactly (scheme, host, port)", () => {
    assert.equal(guard.isOriginAllowed("https://app.example.com"), true);
    assert.equal(guard.isOriginAllowed("http://app.example.com"), false);
    assert.equal(guard.isOriginAllowed("https://app.example.com:8443"), false);
  });

  test("foreign, opaque and malformed origins are refused", () => {
    for (const origin of ["https://evil.example", "null", "file://", "not a url", "http://localhost.evil.example"]) {
      assert.equal(guard.isOriginAllowed(origin), false, origin);
    }
  });

  test('"*" allows every origin', () => {
    assert.equal(new RequestGuard({ bindHost: "127.0.0.1", allowOrigins: ["*"] }).isOriginAllowed("https://x.y"), true);
  });
});

describe("inbound API key", () => {
  test("a non-loopback bind without a key is refused at construction", () => {
    assert.throws(
      () => new RequestGuard({ bindHost: "0.0.0.0" }),
      (error) => isProxyError(error, "USAGE"),
    );
    assert.throws(
      () => assertBindAllowed("192.168.1.5", ""),
      (error) => isProxyError(error, "USAGE"),
    );
    assert.doesNotThrow(() => assertBindAllowed("127.0.0.1", undefined));
    assert.doesNotThrow(() => assertBindAllowed("::1", undefined));
    assert.doesNotThrow(() => assertBindAllowed("0.0.0.0", "secret"));
  });

  test("without a configured key every request passes", () => {
    const guard = new RequestGuard({ bindHost: "127.0.0.1" });
    assert.equal(guard.requiresKey, false);
    assert.equal(guard.hasValidKey({}), true);
  });

  test("accepts the key as Bearer, X-API-Key or a Basic password; refuses anything else", () => {
    const guard = new RequestGuard({ bindHost: "127.0.0.1", apiKey: "s3cret-key" });
    assert.equal(guard.requiresKey, true);
    assert.equal(guard.hasValidKey({ authorization: "Bearer s3cret-key" }), true);
    assert.equal(guard.hasValidKey({ authorization: "bearer s3cret-key" }), true);
    assert.equal(guard.hasValidKey({ "x-api-key": "s3cret-key" }), true);
    const basic = `Basic ${Buffer.from("me:s3cret-key").toString("base64")}`;
    assert.equal(guard.hasValidKey({ authorization: basic }), true);
    assert.equal(guard.hasValidKey({}), false);
    assert.equal(guard.hasValidKey({ authorization: "Bearer s3cret-keyX" }), false);
    assert.equal(guard.hasValidKey({ authorization: "Bearer s3cret" }), false);
    assert.equal(guard.hasValidKey({ "x-api-key": "" }), false);
    assert.equal(guard.hasValidKey({ authorization: `Basic ${Buffer.from("s3cret-key").toString("base64")}` }), false);
  });
});

describe("Fetch Metadata policy of the relay routes (browserRefusal)", () => {
  const guard = new RequestGuard({ bindHost: "127.0.0.1", allowOrigins: ["https://app.example.com"] });
  const refused = (headers: Record<string, string>) => guard.browserRefusal(headers) !== undefined;

  test("non-browser clients (no Sec-Fetch headers) are not affected", () => {
    assert.equal(refused({}), false);
    assert.equal(refused({ origin: "http://localhost:6274" }), false);
  });

  test("navigations and no-cors loads are refused whatever the site", () => {
    for (const site of ["none", "same-origin", "same-site", "cross-site"]) {
      for (const mode of ["navigate", "nested-navigate", "no-cors", "websocket"]) {
        assert.equal(refused({ "sec-fetch-site": site, "sec-fetch-mode": mode }), true, `${site} ${mode}`);
      }
    }
    assert.match(guard.browserRefusal({ "sec-fetch-mode": "navigate" }) ?? "", /navigation/);
  });

  test("cross-site and same-site requests pass only as CORS from an allowed origin", () => {
    for (const site of ["cross-site", "same-site"]) {
      assert.equal(refused({ "sec-fetch-site": site, "sec-fetch-mode": "cors" }), true, "no Origin");
      assert.equal(
        refused({ "sec-fetch-site": site, "sec-fetch-mode": "cors", origin: "https://evil.example" }),
        true,
        "foreign origin",
      );
      assert.equal(
        refused({ "sec-fetch-site": site, "sec-fetch-mode": "cors", origin: "https://app.example.com" }),
        false,
        "configured origin",
      );
      assert.equal(
        refused({ "sec-fetch-site": site, "sec-fetch-mode": "cors", origin: "http://localhost:6274" }),
        false,
        "loopback origin",
      );
      assert.equal(refused({ "sec-fetch-site": site, "sec-fetch-mode": "same-origin" }), true, "not CORS");
    }
  });

  test("same-origin scripted requests pass", () => {
    assert.equal(refused({ "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" }), false);
    assert.equal(refused({ "sec-fetch-site": "same-origin", "sec-fetch-mode": "same-origin" }), false);
  });
});

describe("the page's own origin, for its form posts (isOwnPageOrigin)", () => {
  const local = new RequestGuard({ bindHost: "127.0.0.1" });
  // Behind an HTTPS reverse proxy that passes Host through: the operator lists the public host and origin.
  const behindTls = new RequestGuard({
    bindHost: "127.0.0.1",
    allowHosts: ["proxy.example.com"],
    allowOrigins: ["https://proxy.example.com", "https://app.example.com"],
  });

  test("the Origin of the scheme the request arrived on, for the Host it was sent to", () => {
    assert.equal(local.isOwnPageOrigin("http://127.0.0.1:8000", "127.0.0.1:8000", false), true);
    assert.equal(local.isOwnPageOrigin("http://localhost:8000", "LOCALHOST:8000", false), true);
    assert.equal(local.isOwnPageOrigin("http://[::1]:8000", "[::1]:8000", false), true);
    assert.equal(local.isOwnPageOrigin("https://localhost:8000", "localhost:8000", true), true);
  });

  test("behind an HTTPS reverse proxy: the listed https origin of the Host (default port or not)", () => {
    assert.equal(behindTls.isOwnPageOrigin("https://proxy.example.com", "proxy.example.com", false), true);
    assert.equal(behindTls.isOwnPageOrigin("https://proxy.example.com", "proxy.example.com:443", false), true);
    assert.equal(behindTls.isOwnPageOrigin("https://localhost:8443", "localhost:8443", false), true, "local TLS");
  });

  test("another scheme is not taken on trust: it must be loopback or listed exactly, never through *", () => {
    const any = new RequestGuard({ bindHost: "127.0.0.1", allowOrigins: ["*"], allowHosts: ["proxy.example.com"] });
    assert.equal(any.isOwnPageOrigin("https://proxy.example.com", "proxy.example.com", false), false);
    assert.equal(any.isOwnPageOrigin("http://proxy.example.com", "proxy.example.com", false), true);
    assert.equal(behindTls.isOwnPageOrigin("http://proxy.example.com", "proxy.example.com", false), false);
    assert.equal(behindTls.isOwnPageOrigin("http://proxy.example.com", "proxy.example.com", true), false);
    // A page on the plain-HTTP side of a TLS listener.
    assert.equal(local.isOwnPageOrigin("http://example.net", "example.net", true), false);
  });

  test("another site, port or host than the request's is refused, even a listed or loopback one", () => {
    for (const [origin, host] of [
      ["https://app.example.com", "proxy.example.com"], // a listed browser app is not the page
      ["https://proxy.example.com", "127.0.0.1:8000"], // a reverse proxy that rewrote Host
      ["https://proxy.example.com:8443", "proxy.example.com"],
      ["https://proxy.example.com", "proxy.example.com:8443"],
      ["http://localhost:9999", "localhost:8000"],
      ["http://127.0.0.1:8000", "localhost:8000"],
      ["https://evil.example", "evil.example"], // DNS rebinding: a foreign name is never the page's
      ["null", "localhost:8000"],
      ["not a url", "localhost:8000"],
      ["ftp://localhost:8000", "localhost:8000"],
    ]) {
      assert.equal(behindTls.isOwnPageOrigin(origin as string, host, false), false, `${origin} for Host ${host}`);
    }
  });

  test("a missing or malformed Host header matches nothing", () => {
    for (const host of [undefined, "", "localhost:8000/x", "user@localhost:8000", "localhost:8000?x", "a b"]) {
      assert.equal(local.isOwnPageOrigin("http://localhost:8000", host, false), false, String(host));
    }
  });
});
