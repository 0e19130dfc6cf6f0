// The key `--generate-api-key` keeps in the token directory: made once (0600 file, 0700 directory), the same one on
// every later start, one key when several replicas start at once on one volume, and a file others could read tightened.
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadOrGenerateApiKey } from "../../src/app/generated-api-key.ts";

const work = mkdtempSync(join(tmpdir(), "u2m-generated-key-"));
after(() => rmSync(work, { recursive: true, force: true }));

test("made once, then read back", async () => {
  const dir = join(work, "once", "auth");
  const first = await loadOrGenerateApiKey(dir);
  assert.equal(first.created, true);
  assert.match(first.key, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(statSync(first.path).mode & 0o777, 0o600);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(readFileSync(first.path, "utf8"), `${first.key}\n`);
  const again = await loadOrGenerateApiKey(dir);
  assert.deepEqual(again, { ...first, created: false });
});

test("replicas starting at once agree on one key, and only one of them made it", async () => {
  const dir = join(work, "race");
  const results = await Promise.all(Array.from({ length: 8 }, () => loadOrGenerateApiKey(dir)));
  assert.equal(new Set(results.map((result) => result.key)).size, 1);
  assert.equal(results.filter((result) => result.created).length, 1);
});

test("a key file others can read is tightened to 0600; an empty one is a clear error", async () => {
  const dir = join(work, "loose");
  const { path, key } = await loadOrGenerateApiKey(dir);
  chmodSync(path, 0o644);
  assert.equal((await loadOrGenerateApiKey(dir)).key, key);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  writeFileSync(path, "\n");
  await assert.rejects(loadOrGenerateApiKey(dir), { code: "STORE_ERROR", message: /is empty/ });
});
