// The page's Sign in / Sign out forms behind an HTTPS reverse proxy: TLS ends in front of the proxy, which passes the
// Host header through, so the browser's form posts say `Origin: https://<public host>` while the face itself is
// reached over plain HTTP. The reverse proxy is played by requests with that Host and Origin (node:http, which lets
// a test set Host); the real OAuth core, the real test AS and the scripted login do the rest.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { completeLoginInBrowser } from "../fixtures/headless-login.ts";
import { type FaceHarness, startFaceHarness } from "./support/http-face-harness.ts";

const PUBLIC_HOST = "proxy.example.com";
const PUBLIC_ORIGIN = `https://${PUBLIC_HOST}`;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe("page forms behind an HTTPS reverse proxy", () => {
  let h: FaceHarness;

  before(async () => {
    h = await startFaceHarness({
      browser: "ignore",
      serve: { signInAtStart: false, allowHosts: [PUBLIC_HOST], allowOrigins: [PUBLIC_ORIGIN] },
    });
  });

  after(async () => {
    await h?.close();
  });

  /** A request to the face as the reverse proxy forwards it (Host as the browser sent it). */
  function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
    const target = new URL(h.face.url);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          method,
          path,
          headers,
          signal: AbortSignal.timeout(10_000),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  async function csrfFor(host: string): Promise<string> {
    const page = await send("GET", "/", { host });
    assert.equal(page.status, 200, page.body);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
    assert.ok(csrf, "the page has a form token");
    return csrf;
  }

  function form(path: string, host: string, origin: string, csrf: string): Promise<Answer> {
    return send(
      "POST",
      path,
      { host, origin, "content-type": "application/x-www-form-urlencoded" },
      `csrf=${encodeURIComponent(csrf)}`,
    );
  }

  test("refused: another scheme, site or port than the public origin, or the public origin without its Host", async () => {
    const csrf = await csrfFor(PUBLIC_HOST);
    const direct = new URL(h.face.url).host;
    const cases: [host: string, origin: string][] = [
      [PUBLIC_HOST, `http://${PUBLIC_HOST}`], // not the origin the operator listed
      [PUBLIC_HOST, "https://evil.example"],
      [PUBLIC_HOST, `${PUBLIC_ORIGIN}:8443`],
      [PUBLIC_HOST, "http://localhost:9999"], // another local page (loopback origins pass the CORS check)
      [direct, PUBLIC_ORIGIN], // a listed origin, but not the one this request was made to
    ];
    for (const [host, origin] of cases) {
      for (const path of ["/oauth/sign-in", "/oauth/sign-out"]) {
        const answer = await form(path, host, origin, csrf);
        assert.equal(answer.status, 403, `${path} Host ${host} Origin ${origin}: ${answer.body}`);
      }
    }
    assert.equal(h.opened.length, 0);
    assert.deepEqual(await h.store.keys(), []);
  });

  test("the public https origin signs in and out", async () => {
    const csrf = await csrfFor(PUBLIC_HOST);
    const signIn = await form("/oauth/sign-in", PUBLIC_HOST, PUBLIC_ORIGIN, csrf);
    assert.equal(signIn.status, 303, signIn.body);
    const location = String(signIn.headers.location ?? "");
    assert.ok(location.startsWith(`${h.as.issuer}/`), location);
    const login = await completeLoginInBrowser(location);
    assert.equal(login.callbackStatus, 200);
    await h.signedIn();

    const signOut = await form("/oauth/sign-out", PUBLIC_HOST, PUBLIC_ORIGIN, csrf);
    assert.equal(signOut.status, 303, signOut.body);
    assert.equal(signOut.headers.location, "/");
    assert.equal((await h.auth.status()).signedIn, false);
  });

  test("a TLS terminator on this machine (https on a loopback host) works without --allow-origin", async () => {
    const host = "localhost:8443";
    const csrf = await csrfFor(host);
    const signIn = await form("/oauth/sign-in", host, `https://${host}`, csrf);
    assert.equal(signIn.status, 303, signIn.body);
    assert.ok(String(signIn.headers.location ?? "").startsWith(`${h.as.issuer}/`));
  });
});
