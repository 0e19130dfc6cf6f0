// Paste-back: what counts as a pasted authorization response (parsePastedRedirect), and the prompt loop through
// UpstreamAuth with a fake terminal and the in-memory authorization server of support/fake-oauth.ts: a wrong URL
// or state is explained and asked for again without losing the flow; `iss` is checked as for the callback.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { PasteBackTerminal } from "../../src/auth/paste-back.ts";
import { parsePastedRedirect } from "../../src/auth/paste-back.ts";
import { UpstreamAuth } from "../../src/auth/upstream-auth.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { createLogger } from "../../src/lib/logger.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { fakeOAuth, PORT, REDIRECT_URI, RUNTIME, until, upstreamOf } from "./support/fake-oauth.ts";

describe("parsePastedRedirect", () => {
  const response = "code=c-1&state=s-1";
  const accepted: Array<[string, string]> = [
    ["the full redirected URL", `${REDIRECT_URI}?${response}`],
    ["the URL with blanks around it", `   ${REDIRECT_URI}?${response}  \r`],
    ["the URL in quotes", `"${REDIRECT_URI}?${response}"`],
    ["the URL in angle brackets", `<${REDIRECT_URI}?${response}>`],
    ["the query with its ?", `?${response}`],
    ["the bare query", response],
    ["an error response", `${REDIRECT_URI}?error=access_denied&state=s-1`],
  ];
  for (const [what, pasted] of accepted) {
    test(`accepts ${what}`, () => {
      const query = parsePastedRedirect(pasted, REDIRECT_URI);
      assert.equal(query?.get("state"), "s-1");
    });
  }

  test("an empty line is nothing (no error)", () => {
    assert.equal(parsePastedRedirect("   ", REDIRECT_URI), undefined);
  });

  const refused: Array<[string, string, RegExp]> = [
    ["another host", `http://localhost:${PORT}/oauth/callback?${response}`, /not this sign-in's redirect address/],
    ["another port", `http://127.0.0.1:${PORT + 1}/oauth/callback?${response}`, /not this sign-in's redirect/],
    ["another scheme", `https://127.0.0.1:${PORT}/oauth/callback?${response}`, /not this sign-in's redirect/],
    ["another path", `http://127.0.0.1:${PORT}/callback?${response}`, /not this sign-in's redirect/],
    ["another site", `https://evil.example.com/oauth/callback?${response}`, /evil\.example\.com/],
    ["a URL without state", `${REDIRECT_URI}?code=c-1`, /no authorization response/],
    ["a URL without code or error", `${REDIRECT_URI}?state=s-1`, /no authorization response/],
    ["a cut-short query", "code=c-1", /no authorization response/],
    ["prose", "I signed in!", /neither the redirected address nor its query/],
  ];
  for (const [what, pasted, message] of refused) {
    test(`refuses ${what}, saying what to paste`, () => {
      assert.throws(
        () => parsePastedRedirect(pasted, REDIRECT_URI),
        (error: unknown) =>
          isProxyError(error, "STATE_MISMATCH") &&
          message.test(error.message) &&
          /oauth\/callback\?/.test(error.hint ?? ""),
      );
    });
  }
});

/** A terminal whose lines the test types; what the proxy says is kept. */
class FakeTerminal implements PasteBackTerminal {
  readonly said: string[] = [];
  reading = false;
  private onLine: ((line: string) => void) | undefined;
  read(onLine: (line: string) => void): () => void {
    this.onLine = onLine;
    this.reading = true;
    return () => {
      this.reading = false;
      this.onLine = undefined;
    };
  }
  say(text: string): void {
    this.said.push(text);
  }
  type(line: string): void {
    assert.ok(this.onLine, "the terminal is not being read");
    this.onLine(line);
  }
}

const open: UpstreamAuth[] = [];
after(async () => {
  await Promise.all(open.map((auth) => auth.close()));
});

function pasteHarness(openBrowser = false) {
  const network = fakeOAuth();
  const terminal = new FakeTerminal();
  const printed: string[] = [];
  const auth = new UpstreamAuth(
    upstreamOf(),
    { ...RUNTIME, openBrowser, port: 0 },
    {
      store: new MemoryTokenStore(),
      callback: "own-listener",
      fetch: network.fetchFn,
      pasteBack: terminal,
      logger: createLogger({ level: "error", write: () => {} }),
      printSignInUrl: (url) => void printed.push(url),
      openUrl: async () => {},
    },
  );
  open.push(auth);
  return { auth, network, terminal, printed };
}

/** The redirect a browser would land on for this authorization URL. */
function redirectFor(authorizationUrl: string, extra: Record<string, string> = {}): string {
  const url = new URL(authorizationUrl);
  const back = new URL(url.searchParams.get("redirect_uri") ?? "");
  back.searchParams.set("code", "code-1");
  back.searchParams.set("state", url.searchParams.get("state") ?? "");
  for (const [name, value] of Object.entries(extra)) back.searchParams.set(name, value);
  return back.href;
}

describe("paste-back with --no-browser on a terminal", () => {
  test("a wrong URL, then a wrong state: explained, asked again; then the right one signs in and reading stops", async () => {
    const h = pasteHarness();
    const handle = await h.auth.startSignIn();
    assert.equal(h.terminal.reading, true);
    assert.match(
      h.terminal.said[0] ?? "",
      /paste the address it ends on \(http:\/\/127\.0\.0\.1:\d+\/oauth\/callback\?…\)/,
    );
    const right = redirectFor(handle.url);

    h.terminal.type(right.replace("/oauth/callback", "/elsewhere"));
    assert.match(h.terminal.said.at(-1) ?? "", /not this sign-in's redirect address/);

    const wrongState = new URL(right);
    wrongState.searchParams.set("state", "not-the-state");
    h.terminal.type(wrongState.href);
    await until(() => h.terminal.said.length === 3, "the state mismatch to be explained");
    assert.match(h.terminal.said.at(-1) ?? "", /unknown, was already used, or has expired\. Paste the address again/);
    assert.equal(h.network.tokenRequests.authorization_code ?? 0, 0, "nothing was exchanged");
    assert.equal(h.auth.pendingSignIn()?.url, handle.url, "the flow is not lost");

    h.terminal.type(right);
    await handle.completed;
    assert.equal((await h.auth.status()).signedIn, true);
    assert.equal(h.terminal.reading, false);
  });

  test("the bare query works too", async () => {
    const h = pasteHarness();
    const handle = await h.auth.startSignIn();
    h.terminal.type(new URL(redirectFor(handle.url)).search);
    await handle.completed;
    assert.equal((await h.auth.status()).signedIn, true);
  });

  test("an `iss` of another authorization server is refused as at the callback, and the sign-in fails", async () => {
    const h = pasteHarness();
    const handle = await h.auth.startSignIn();
    h.terminal.type(redirectFor(handle.url, { iss: "https://evil.example.com" }));
    await assert.rejects(handle.completed, (error: unknown) => isProxyError(error));
    assert.equal(h.network.tokenRequests.authorization_code ?? 0, 0);
    assert.equal(h.terminal.reading, false);
  });

  test("the loopback listener wins the race: reading stops, nothing more is asked", async () => {
    const h = pasteHarness();
    const handle = await h.auth.startSignIn();
    const result = await h.auth.handleCallback(new URL(redirectFor(handle.url)).searchParams);
    assert.equal(result.ok, true);
    await handle.completed;
    assert.equal(h.terminal.reading, false);
  });

  test("when the browser is opened here, no paste-back is offered", async () => {
    const h = pasteHarness(true);
    await h.auth.startSignIn();
    assert.equal(h.terminal.reading, false);
    assert.deepEqual(h.terminal.said, []);
  });
});
