/**
 * Encryption at rest over the file backend, on disk: the files hold envelopes only, and an envelope the process
 * cannot open (wrong key, no key, a later format) is never moved aside, rewritten or deleted.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { generateStoreKey } from "../../src/store/record-cipher.ts";
import { SealedTokenStore } from "../../src/store/sealed-store.ts";
import { clientInfoRecord, tokensRecord } from "../integration/store-helpers/records.ts";

const root = mkdtempSync(join(tmpdir(), "store-sealed-file-"));
after(() => rmSync(root, { recursive: true, force: true }));
const KEY = "0123456789abcdef0123456789abcdef";
let dirs = 0;

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    out[name] = `${statSync(join(dir, name)).ino}:${readFileSync(join(dir, name), "utf8")}`;
  }
  return out;
}

test("files hold envelopes only (0600), and a wrong or missing key changes nothing on disk", async () => {
  const dir = join(root, `s${++dirs}`);
  const warnings: string[] = [];
  const backend = new FileTokenStore({ dir, onWarning: (message) => warnings.push(message) });
  const key = generateStoreKey();
  const store = new SealedTokenStore(backend, { key });
  await store.write(KEY, "tokens", tokensRecord("fake-access-token-on-disk"));
  await store.write(KEY, "client_info", clientInfoRecord());
  const files = readdirSync(dir);
  assert.deepEqual(files.sort(), [`${KEY}_client_info.json`, `${KEY}_tokens.json`]);
  for (const name of files) {
    const text = readFileSync(join(dir, name), "utf8");
    assert.equal(statSync(join(dir, name)).mode & 0o777, 0o600);
    assert.deepEqual(Object.keys(JSON.parse(text)), ["version", "revision", "sealed"], name);
    for (const secret of ["fake-access-token-on-disk", "fake-refresh-token-1", "fake-client-secret", "mcp.example"]) {
      assert.ok(!text.includes(secret), `${secret} in ${name}`);
    }
  }
  const before = snapshot(dir);

  const wrong = new SealedTokenStore(backend, { key: generateStoreKey() });
  const keyless = new SealedTokenStore(backend);
  for (const attempt of [
    () => wrong.read(KEY, "tokens"),
    () => wrong.write(KEY, "tokens", tokensRecord("replacement")),
    () => keyless.read(KEY, "client_info"),
    () => keyless.write(KEY, "client_info", clientInfoRecord()),
  ]) {
    await assert.rejects(
      attempt(),
      (e: unknown) => isProxyError(e, "STORE_KEY_WRONG") || isProxyError(e, "STORE_KEY_MISSING"),
    );
  }
  // The backend on its own reads an envelope as an opaque record: not corrupt, not moved aside.
  assert.ok((await backend.read(KEY, "tokens"))?.revision === 1);
  assert.deepEqual(snapshot(dir), before, "no file moved, rewritten or removed");
  assert.deepEqual(warnings, []);
  assert.equal((await store.read(KEY, "tokens"))?.tokens.access_token, "fake-access-token-on-disk");
});

test("an envelope of a later format is left alone too, and so is a refused copy", async () => {
  const dir = join(root, `s${++dirs}`);
  const warnings: string[] = [];
  const backend = new FileTokenStore({ dir, onWarning: (message) => warnings.push(message) });
  const store = new SealedTokenStore(backend, { key: generateStoreKey(), onWarning: (m) => warnings.push(m) });
  await backend.keys();
  const later = `${JSON.stringify({ version: 1, revision: 3, sealed: { alg: "XC20P", kid: "abc", n: "…" } })}\n`;
  writeFileSync(join(dir, `${KEY}_tokens.json`), later, { mode: 0o600 });
  await assert.rejects(store.read(KEY, "tokens"), (e: unknown) => isProxyError(e, "STORE_KEY_WRONG"));
  assert.deepEqual(readdirSync(dir), [`${KEY}_tokens.json`]);
  assert.equal(readFileSync(join(dir, `${KEY}_tokens.json`), "utf8"), later);
  assert.deepEqual(warnings, []);
});
