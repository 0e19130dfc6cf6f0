import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { isProxyError } from "../../src/lib/errors.ts";
import { assertSafeBrowserUrl, browserCanBeOpened, openUrl } from "../../src/lib/open-url.ts";

describe("assertSafeBrowserUrl (MCP security best practices, OAuth Authorization URL Validation)", () => {
  const accepted = [
    "https://auth.example.com/authorize?client_id=a&state=b",
    "HTTPS://AUTH.EXAMPLE.COM/authorize",
    "https://auth.example.com:8443/oauth2/v1/authorize",
    "http://127.0.0.1:8080/authorize",
    "http://127.0.0.2/authorize",
    "http://localhost:3000/authorize",
    "http://LOCALHOST/authorize",
    "http://[::1]:9000/authorize",
    "http://auth.localhost/authorize",
  ];
  for (const url of accepted) {
    test(`accepts ${url}`, () => {
      const parsed = assertSafeBrowserUrl(url);
      assert.ok(parsed instanceof URL);
      assert.equal(parsed.href, new URL(url).href);
    });
  }

  const rejected = [
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "file://localhost/etc/passwd",
    "vbscript:msgbox(1)",
    "ftp://auth.example.com/authorize",
    "http://auth.example.com/authorize",
    "http://10.0.0.1/authorize",
    "http://0.0.0.0:8080/authorize",
    "http://127.0.0.1.evil.example/authorize",
    "http://localhost.evil.example/authorize",
    "http://[::ffff:7f00:1]/authorize",
    "https://user:secret@auth.example.com/authorize",
    "http://user@127.0.0.1/authorize",
    "not a url",
    "",
    "/authorize",
  ];
  for (const url of rejected) {
    test(`rejects ${JSON.stringify(url)}`, () => {
      assert.throws(
        () => assertSafeBrowserUrl(url),
        (error: unknown) => isProxyError(error, "UNSAFE_URL"),
      );
    });
  }

  test("the refusal names the scheme and origin but never the query or the user info", () => {
    try {
      assertSafeBrowserUrl("http://user:hunter2@evil.example/authorize?code_challenge=abc&state=xyz");
      assert.fail("should have thrown");
    } catch (error) {
      assert.ok(isProxyError(error, "UNSAFE_URL"));
      assert.match(error.message, /http:/);
      assert.doesNotMatch(error.message, /hunter2|state=xyz|code_challenge/);
      assert.ok(error.hint);
    }
  });
});

describe("openUrl", () => {
  const dir = mkdtempSync(join(tmpdir(), "open-url-test-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  // A fake browser: records the arguments it was started with.
  const browser = join(dir, "browser.mjs");
  writeFileSync(
    browser,
    'import { writeFileSync } from "node:fs";\nwriteFileSync(process.env.OPEN_URL_TEST_OUT, JSON.stringify(process.argv.slice(2)));\n',
  );

  test("runs BROWSER without a shell, with the URL as its only argument, verbatim", async () => {
    const out = join(dir, "argv.json");
    process.env.OPEN_URL_TEST_OUT = out;
    const marker = join(dir, "pwned");
    const url = `https://auth.example.com/authorize?a=$(touch ${marker})&b=\`touch ${marker}\`;touch%20x|y&c="q"`;
    await openUrl(url, { browserCommand: `${process.execPath} ${browser}` });
    const argv = await waitForJson(out);
    assert.deepEqual(argv, [new URL(url).href]);
    assert.throws(() => readFileSync(marker), { code: "ENOENT" });
  });

  test("refuses an unsafe URL before starting anything", async () => {
    const out = join(dir, "never.json");
    process.env.OPEN_URL_TEST_OUT = out;
    await assert.rejects(
      openUrl("javascript:alert(1)", { browserCommand: `${process.execPath} ${browser}` }),
      (error: unknown) => isProxyError(error, "UNSAFE_URL"),
    );
    assert.throws(() => readFileSync(out), { code: "ENOENT" });
  });

  test("a browser command that cannot be started rejects with the reason", async () => {
    await assert.rejects(
      openUrl("https://auth.example.com/authorize", { browserCommand: join(dir, "no-such-browser") }),
      (error: unknown) => isProxyError(error, "INTERNAL") && /no-such-browser/.test(error.message),
    );
  });
});

/** The fake browser runs detached: wait (bounded) for its output file. */
async function waitForJson(path: string): Promise<unknown> {
  for (let i = 0; i < 200; i++) {
    try {
      return JSON.parse(readFileSync(path, "utf8"));
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`${path} was never written`);
}

describe("browserCanBeOpened", () => {
  const dir = mkdtempSync(join(tmpdir(), "open-url-path-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "xdg-open"), "#!/bin/sh\n", { mode: 0o755 });

  test("BROWSER set: yes, whatever the platform and display", () => {
    assert.equal(browserCanBeOpened({ browserCommand: "firefox", platform: "linux" }), true);
  });
  test("macOS and Windows: yes (their openers always exist)", () => {
    assert.equal(browserCanBeOpened({ platform: "darwin" }), true);
    assert.equal(browserCanBeOpened({ platform: "win32" }), true);
  });
  test("Linux without a display (SSH, containers): no", () => {
    assert.equal(browserCanBeOpened({ platform: "linux", path: dir }), false);
  });
  test("Linux with a display: only when xdg-open is on PATH", () => {
    assert.equal(browserCanBeOpened({ platform: "linux", display: ":0", path: dir }), true);
    assert.equal(browserCanBeOpened({ platform: "linux", display: ":0", path: join(dir, "nowhere") }), false);
  });
});
