/** FileTokenStore specifics: layout, modes, corruption, versions. The shared contract is in store-contract.test.ts. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { RECORD_KINDS } from "../../src/store/record-schemas.ts";
import { grantKey, storeKey } from "../../src/store/store-key.ts";
import {
  asStored,
  clientInfoRecord,
  discoveryRecord,
  SERVER_URL,
  sampleRecords,
  tokensRecord,
} from "../integration/store-helpers/records.ts";

const root = mkdtempSync(join(tmpdir(), "store-file-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const KEY = storeKey(SERVER_URL);
const modeOf = (path: string) => statSync(path).mode & 0o777;

function open(options: { dir?: string; lockWaitMs?: number } = {}) {
  const warnings: string[] = [];
  const dir = options.dir ?? join(root, `s${++n}`, "auth");
  const store = new FileTokenStore({
    dir,
    onWarning: (message) => warnings.push(message),
    ...(options.lockWaitMs ? { lockWaitMs: options.lockWaitMs } : {}),
  });
  return { store, dir, warnings };
}

describe("FileTokenStore layout", () => {
  test("keeps <key>_tokens.json, <key>_client_info.json, <key>_discovery.json as readable JSON", async () => {
    const { store, dir, warnings } = open();
    assert.equal(store.location, dir);
    await store.write(KEY, "tokens", tokensRecord());
    await store.write(KEY, "client_info", clientInfoRecord());
    await store.write(KEY, "discovery", discoveryRecord());
    assert.deepEqual(readdirSync(dir).sort(), [
      `${KEY}_client_info.json`,
      `${KEY}_discovery.json`,
      `${KEY}_tokens.json`,
    ]);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, `${KEY}_tokens.json`), "utf8")), asStored(tokensRecord()));
    assert.deepEqual(
      JSON.parse(readFileSync(store.recordPath(KEY, "client_info"), "utf8")),
      asStored(clientInfoRecord()),
    );
    assert.deepEqual(warnings, []);
  });

  for (const mask of [0, 0o022]) {
    test(`directory 0700 and files 0600 under umask ${mask.toString(8).padStart(3, "0")}`, async () => {
      const previous = process.umask(mask);
      try {
        const { store, dir } = open();
        for (const kind of RECORD_KINDS) {
          await store.write(KEY, kind, sampleRecords[kind]());
        }
        assert.equal(modeOf(dir), 0o700);
        for (const kind of RECORD_KINDS) assert.equal(modeOf(store.recordPath(KEY, kind)), 0o600, kind);
      } finally {
        process.umask(previous);
      }
    });
  }

  test("an existing 0755 directory is tightened to 0700 and reported once", async () => {
    const dir = join(root, `s${++n}`);
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const { store, warnings } = open({ dir });
    await store.keys();
    await store.write(KEY, "tokens", tokensRecord());
    await store.read(KEY, "tokens");
    assert.equal(modeOf(dir), 0o700);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /mode 0755\); changed it to 0700/);
  });

  test("a record file readable by others is tightened to 0600 on read and reported", async () => {
    const { store, warnings } = open();
    await store.write(KEY, "tokens", tokensRecord());
    chmodSync(store.recordPath(KEY, "tokens"), 0o644);
    assert.deepEqual(await store.read(KEY, "tokens"), asStored(tokensRecord()));
    assert.equal(modeOf(store.recordPath(KEY, "tokens")), 0o600);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /readable by others \(mode 0644\); changed it to 0600/);
  });

  test("keys() ignores locks, temp files, quarantined files and sidecars", async () => {
    const { store, dir } = open();
    await store.write(KEY, "tokens", tokensRecord());
    writeFileSync(join(dir, "aaaa_tokens.json.corrupt-20260101T000000000Z"), "{");
    writeFileSync(join(dir, "bbbb_tokens.json.tmp-1-abcdef"), "{");
    writeFileSync(join(dir, "cccc_debug.log"), "");
    writeFileSync(join(dir, "notes.txt"), "");
    mkdirSync(join(dir, "dddd.refresh.lock"));
    assert.deepEqual(await store.keys(), [KEY]);
  });

  test("remove() keeps sidecars and quarantined files", async () => {
    const { store, dir } = open();
    await store.write(KEY, "tokens", tokensRecord());
    const sidecar = store.sidecarPath(KEY, "debug.log");
    writeFileSync(sidecar, "log");
    writeFileSync(join(dir, `${KEY}_tokens.json.corrupt-20260101T000000000Z`), "{");
    await store.remove(KEY);
    assert.deepEqual(readdirSync(dir).sort(), [`${KEY}_debug.log`, `${KEY}_tokens.json.corrupt-20260101T000000000Z`]);
  });

  test("sidecarPath is <dir>/<key>_<suffix>, creates the directory, and refuses path tricks", () => {
    const { store, dir } = open();
    assert.equal(store.sidecarPath(KEY, "debug.log"), join(dir, `${KEY}_debug.log`));
    assert.equal(modeOf(dir), 0o700);
    for (const bad of ["../x", "a/b", "", ".hidden", "tokens.json", "x".repeat(65)]) {
      assert.throws(
        () => store.sidecarPath(KEY, bad),
        (e: unknown) => isProxyError(e, "INTERNAL"),
        bad,
      );
    }
  });

  test("a directory removed while running is created again on the next write", async () => {
    const { store, dir } = open();
    await store.write(KEY, "tokens", tokensRecord("one"));
    rmSync(dir, { recursive: true });
    await store.write(KEY, "tokens", tokensRecord("two"));
    assert.equal((await store.read(KEY, "tokens"))?.tokens.access_token, "two");
    assert.equal(modeOf(dir), 0o700);
  });

  test("a write cleans up temp files left by killed writers", async () => {
    const { store, dir } = open();
    await store.keys();
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    writeFileSync(join(dir, `${KEY}_tokens.json.tmp-${dead}-0123456789ab`), '{"half');
    await store.write(KEY, "tokens", tokensRecord());
    assert.deepEqual(readdirSync(dir), [`${KEY}_tokens.json`]);
  });

  test("two stores on one directory share records and serialise their locks", async () => {
    const dir = join(root, `s${++n}`);
    const a = open({ dir }).store;
    const b = open({ dir }).store;
    await a.write(KEY, "tokens", tokensRecord("0"));
    const increment = (store: FileTokenStore) =>
      store.withLock(KEY, "refresh", async () => {
        const count = Number((await store.read(KEY, "tokens"))?.tokens.access_token);
        await new Promise((resolve) => setTimeout(resolve, 1));
        await store.write(KEY, "tokens", tokensRecord(String(count + 1)));
      });
    await Promise.all(Array.from({ length: 20 }, (_, i) => increment(i % 2 ? a : b)));
    assert.equal((await b.read(KEY, "tokens"))?.tokens.access_token, "20");
  });
});

describe("FileTokenStore grants and revisions on disk", () => {
  const ALICE = grantKey(KEY, "alice@example.com");

  test("the default grant keeps the old file name; a principal's is <key>.u<hex>_tokens.json, never naming them", async () => {
    const { store, dir } = open();
    await store.write(grantKey(KEY), "tokens", tokensRecord("default"));
    await store.write(ALICE, "tokens", tokensRecord("alice"));
    await store.write(KEY, "client_info", clientInfoRecord());
    const names = readdirSync(dir).sort();
    assert.deepEqual(names, [`${KEY}.u98489ed53fe5a7d5_tokens.json`, `${KEY}_client_info.json`, `${KEY}_tokens.json`]);
    assert.ok(names.every((name) => !/alice|example/.test(name)));
    assert.equal(store.recordPath(ALICE, "tokens"), join(dir, `${ALICE}_tokens.json`));
    assert.equal(modeOf(join(dir, names[0]!)), 0o600);
    // The revision sits next to the version, for people reading the file.
    const onDisk = JSON.parse(readFileSync(store.recordPath(ALICE, "tokens"), "utf8"));
    assert.deepEqual(Object.keys(onDisk).slice(0, 2), ["version", "revision"]);
    assert.equal(onDisk.revision, 1);
  });

  test("a tokens file written by an earlier version is the default grant, at revision 0", async () => {
    const { store, dir, warnings } = open();
    await store.keys();
    writeFileSync(join(dir, `${KEY}_tokens.json`), JSON.stringify(tokensRecord("from 0.x")), { mode: 0o600 });
    assert.deepEqual(await store.read(grantKey(KEY), "tokens"), asStored(tokensRecord("from 0.x"), 0));
    assert.deepEqual(await store.keys(), [KEY]);
    assert.deepEqual(await store.grantKeys(KEY), [KEY]);
    assert.deepEqual(warnings, []);
  });

  test("a revision that is not an integer ≥ 0 makes the record corrupt (moved aside)", async () => {
    const { store, dir, warnings } = open();
    await store.keys();
    writeFileSync(store.recordPath(KEY, "tokens"), JSON.stringify({ ...tokensRecord(), revision: "7" }), {
      mode: 0o600,
    });
    assert.equal(await store.read(KEY, "tokens"), undefined);
    assert.match(warnings[0] ?? "", /revision: expected an integer ≥ 0/);
    assert.ok(readdirSync(dir).some((name) => name.includes(".corrupt-")));
  });

  test("a write lock left by a dead process on this host is broken at once, not after the staleness period", async () => {
    // lockWaitMs is below the 10 s staleness: only the dead-owner rule can let this write through in time.
    const { store, dir, warnings } = open({ lockWaitMs: 5000 });
    await store.keys();
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    writeFileSync(`${store.recordPath(KEY, "tokens")}.lock`, `${hostname()}\n${dead}\n`);
    assert.equal(await store.write(KEY, "tokens", tokensRecord()), 1);
    assert.deepEqual(readdirSync(dir), [`${KEY}_tokens.json`]);
    assert.deepEqual(warnings, []);
  });

  test("a write lock held by a live owner makes writes wait, then fail with STORE_ERROR; an old one is broken", async () => {
    const { store, dir } = open({ lockWaitMs: 200 });
    await store.write(KEY, "tokens", tokensRecord("before"));
    const lock = `${store.recordPath(KEY, "tokens")}.lock`;
    // Another host's pid cannot be checked from here: only its age can make it stale.
    writeFileSync(lock, "elsewhere.invalid\n1\n");
    for (const write of [
      () => store.write(KEY, "tokens", tokensRecord("blocked")),
      () => store.write(KEY, "tokens", tokensRecord("blocked"), { expectedRevision: 1 }),
      () => store.remove(KEY, "tokens"),
    ]) {
      await assert.rejects(write(), (error: unknown) => {
        assert.ok(isProxyError(error, "STORE_ERROR"), String(error));
        assert.match(error.message, /Timed out after 200 ms waiting for the write lock .*_tokens\.json\.lock/);
        assert.match(error.hint ?? "", /if none is running, remove/);
        return true;
      });
    }
    assert.equal((await store.read(KEY, "tokens"))?.tokens.access_token, "before");
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(lock, hourAgo, hourAgo);
    assert.equal(await store.write(KEY, "tokens", tokensRecord("after"), { expectedRevision: 1 }), 2);
    assert.deepEqual(readdirSync(dir), [`${KEY}_tokens.json`], "no lock or breaker left");
  });

  test("remove() of an upstream removes its grants' files and leaves no lock files", async () => {
    const { store, dir } = open();
    await store.write(KEY, "tokens", tokensRecord());
    await store.write(ALICE, "tokens", tokensRecord());
    await store.write(KEY, "discovery", discoveryRecord());
    await store.remove(KEY);
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe("FileTokenStore corruption handling", () => {
  const corruptions: [string, string, RegExp][] = [
    ["bad JSON", '{"version":1,"tokens":{"access_token":"secret-in-bad-json"', /not valid JSON/],
    ["an empty file", "", /not valid JSON/],
    ["JSON that is not an object", "[1,2,3]", /not a JSON object/],
    ["null", "null", /not a JSON object/],
    ["no version", JSON.stringify({ ...tokensRecord("secret-no-version"), version: undefined }), /version/],
    [
      "a missing required field",
      JSON.stringify({ ...tokensRecord("secret-missing-field"), obtained_at: undefined }),
      /obtained_at/,
    ],
    [
      "a wrongly typed field",
      JSON.stringify({ ...tokensRecord(), tokens: { access_token: 12345, token_type: "Bearer" } }),
      /tokens\.access_token/,
    ],
  ];
  for (const [what, content, reason] of corruptions) {
    test(`${what}: moved aside to .corrupt-<timestamp> (0600, content kept), reported, treated as absent`, async () => {
      const { store, dir, warnings } = open();
      await store.keys();
      const path = store.recordPath(KEY, "tokens");
      writeFileSync(path, content, { mode: 0o600 });

      assert.equal(await store.read(KEY, "tokens"), undefined);

      const names = readdirSync(dir);
      assert.equal(names.length, 1, names.join());
      assert.match(names[0]!, new RegExp(`^${KEY}_tokens\\.json\\.corrupt-\\d{8}T\\d{9}Z$`));
      assert.equal(readFileSync(join(dir, names[0]!), "utf8"), content);
      assert.equal(modeOf(join(dir, names[0]!)), 0o600);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, reason);
      assert.match(warnings[0]!, /moved it to .*corrupt-/);
      assert.doesNotMatch(warnings[0]!, /secret-/, "the warning never quotes the record");

      // Absent from now on, and a new sign-in can write over it.
      assert.deepEqual(await store.keys(), []);
      await store.write(KEY, "tokens", tokensRecord());
      assert.deepEqual(await store.read(KEY, "tokens"), asStored(tokensRecord()));
      assert.equal(warnings.length, 1);
    });
  }

  test("a corrupt client_info or discovery record is handled the same way", async () => {
    const { store, dir, warnings } = open();
    await store.keys();
    writeFileSync(store.recordPath(KEY, "client_info"), JSON.stringify({ version: 1, server_url: SERVER_URL }), {
      mode: 0o600,
    });
    writeFileSync(store.recordPath(KEY, "discovery"), "\u0000\u0000\u0000", { mode: 0o600 });
    assert.equal(await store.read(KEY, "client_info"), undefined);
    assert.equal(await store.read(KEY, "discovery"), undefined);
    assert.equal(readdirSync(dir).filter((name) => name.includes(".corrupt-")).length, 2);
    assert.equal(warnings.length, 2);
  });

  test("a record from a newer layout version is left alone, reported once, treated as absent", async () => {
    const { store, warnings } = open();
    await store.keys();
    const path = store.recordPath(KEY, "tokens");
    const content = JSON.stringify({ ...tokensRecord(), version: 2 });
    writeFileSync(path, content, { mode: 0o600 });
    assert.equal(await store.read(KEY, "tokens"), undefined);
    assert.equal(await store.read(KEY, "tokens"), undefined);
    assert.equal(readFileSync(path, "utf8"), content);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /layout version 2 is newer than this program's 1/);
  });

  test("an unreadable record (a directory in its place) is reported once and treated as absent", async () => {
    const { store, warnings } = open();
    await store.keys();
    mkdirSync(store.recordPath(KEY, "tokens"));
    assert.equal(await store.read(KEY, "tokens"), undefined);
    assert.equal(await store.read(KEY, "tokens"), undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /Could not read .*EISDIR/);
    await assert.rejects(store.write(KEY, "tokens", tokensRecord()), (e: unknown) => isProxyError(e, "STORE_ERROR"));
  });

  test("a directory path that is a file gives STORE_ERROR", async () => {
    const path = join(root, `file${++n}`);
    writeFileSync(path, "");
    const store = new FileTokenStore({ dir: path });
    await assert.rejects(store.keys(), (error: unknown) => {
      assert.ok(isProxyError(error, "STORE_ERROR"));
      assert.match(error.message, /Could not create/);
      return true;
    });
  });
});
