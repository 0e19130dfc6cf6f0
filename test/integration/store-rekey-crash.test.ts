/**
 * `mcp-u2m-proxy store rekey` (the built CLI, a child process) over a store of many records, SIGKILLed at several
 * points of its run: after every kill each record is whole and opens with the old key or the new one, no record
 * is moved aside, and the next run picks up where the last one stopped; a final run finishes the job.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { FileTokenStore } from "../../src/store/file-store.ts";
import { StoreKey } from "../../src/store/record-cipher.ts";
import { SealedTokenStore } from "../../src/store/sealed-store.ts";
import { grantKey, storeKey } from "../../src/store/store-key.ts";
import { censusOf, listRecords, type RecordRef } from "../../src/store/store-rekey.ts";
import { sampleRecords, tokensRecord } from "./store-helpers/records.ts";
import { BIN, cli } from "./support/built-cli.ts";

const UPSTREAMS = 80;
/** Kill once the record at each of these fractions of the run is on the new key (0: as soon as it starts). */
const KILL_AT = [0, 0.1, 0.3, 0.5, 0.7, 0.9];
const root = mkdtempSync(join(tmpdir(), "store-rekey-crash-"));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

function keyOnDisk(name: string): { key: StoreKey; file: string } {
  const bytes = randomBytes(32);
  const file = join(root, name);
  writeFileSync(file, `${bytes.toString("hex")}\n`, { mode: 0o600 });
  return { key: new StoreKey(bytes), file };
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test(`store rekey of ${UPSTREAMS * 5} records survives SIGKILL at ${KILL_AT.length} points: every record opens with the old or the new key`, async (t) => {
  const dir = join(root, "auth");
  const oldKey = keyOnDisk("old.key");
  const newKey = keyOnDisk("new.key");
  const backend = new FileTokenStore({ dir });
  const writer = new SealedTokenStore(backend, { key: oldKey.key });
  // Per upstream: its tokens, client registration and discovery, and two principals' tokens.
  for (let i = 0; i < UPSTREAMS; i++) {
    const upstream = storeKey(`https://mcp${i}.example.com/mcp`);
    await writer.write(upstream, "tokens", tokensRecord(`access-${i}`));
    await writer.write(upstream, "client_info", sampleRecords.client_info());
    await writer.write(upstream, "discovery", sampleRecords.discovery());
    for (const who of ["alice", "bob"]) {
      await writer.write(grantKey(upstream, who), "tokens", tokensRecord(`access-${i}-${who}`));
    }
  }
  const reader = new SealedTokenStore(backend, { readKeys: [oldKey.key, newKey.key] });
  const expected = new Map<string, unknown>();
  const order: RecordRef[] = [];
  for (const { key, kind, stored } of await listRecords(backend)) {
    const { revision: _revision, ...record } = reader.open(key, kind, stored)!;
    expected.set(`${key}_${kind}`, record);
    order.push({ key, kind });
  }
  assert.equal(order.length, UPSTREAMS * 5);
  const kidOnDisk = (ref: RecordRef) =>
    JSON.parse(readFileSync(backend.recordPath(ref.key, ref.kind), "utf8")).sealed?.kid as string | undefined;

  const rekeyArgs = [
    "store",
    "rekey",
    "--auth-dir",
    dir,
    "--store-key-file",
    oldKey.file,
    "--new-store-key-file",
    newKey.file,
  ];
  const mixed: string[] = [];
  for (const fraction of KILL_AT) {
    const child = spawn(process.execPath, [BIN, ...rekeyArgs], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk) => (stdout += chunk));
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    // Killed when the run reaches the record at `fraction` (records are rewritten in listRecords order).
    const mark = order[Math.floor(fraction * (order.length - 1))]!;
    for (;;) {
      const started = stdout.includes("Rekeying");
      if (child.exitCode !== null) break;
      if (started && (fraction === 0 || kidOnDisk(mark) === newKey.key.id)) break;
      await delay(2);
    }
    // Somewhere in the next few writes: between a temp file's creation and its rename, or between records.
    if (fraction > 0) await delay(Math.random() * 15);
    child.kill("SIGKILL");
    await exited;
    assert.equal(child.signalCode, "SIGKILL", `the rekey was killed, did not finish or fail first: ${stderr}`);
    assert.match(stdout, /readable with the old key .* or the new key .*: run the same command again to finish/);

    // Every record whole and on one of the two keys, with its content; nothing moved aside.
    const census = await censusOf(backend);
    assert.equal(census.total, order.length);
    assert.equal(census.plaintext, 0);
    assert.deepEqual(
      Object.keys(census.byKeyId).filter((kid) => kid !== oldKey.key.id && kid !== newKey.key.id),
      [],
    );
    for (const { key, kind } of order) {
      const { revision: _revision, ...record } = (await reader.read(key, kind))!;
      assert.deepEqual(record, expected.get(`${key}_${kind}`), `${key}_${kind} after the kill at ${fraction}`);
    }
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.includes(".corrupt-")),
      [],
    );
    const onNew = census.byKeyId[newKey.key.id] ?? 0;
    if (onNew > 0 && onNew < order.length) mixed.push(`${fraction}: ${onNew} new / ${order.length - onNew} old`);
  }
  assert.ok(mixed.length >= 1, "at least one kill left the store half rekeyed");

  // What the user is told in between: which keys hold which records.
  const between = await cli(["store", "status", "--auth-dir", dir, "--store-key-file", newKey.file]);
  assert.equal(between.code, 0, between.stderr);
  const census = await censusOf(backend);
  if ((census.byKeyId[oldKey.key.id] ?? 0) > 0) {
    assert.match(
      between.stdout,
      new RegExp(`${census.byKeyId[oldKey.key.id]} sealed with store key ${oldKey.key.id}\\n`),
    );
    assert.match(between.stdout, new RegExp(`sealed with store key ${newKey.key.id} \\(the given key\\)`));
    assert.match(between.stdout, /after an interrupted rekey, run it again with the same keys/);
  }

  const finish = await cli(rekeyArgs);
  assert.equal(finish.code, 0, finish.stderr);
  assert.match(finish.stdout, new RegExp(`Rekeyed \\d+ records to store key ${newKey.key.id} \\(\\d+ already were\\)`));
  assert.deepEqual((await censusOf(backend)).byKeyId, { [newKey.key.id]: order.length });
  const onlyNew = new SealedTokenStore(backend, { key: newKey.key });
  for (const { key, kind } of order) {
    const { revision: _revision, ...record } = (await onlyNew.read(key, kind))!;
    assert.deepEqual(record, expected.get(`${key}_${kind}`));
  }
  // A writer killed mid-write can leave its record's write lock (naming its pid) or temp file; the next write of that
  // record breaks the lock at once (its owner is dead) and removes the temp file.
  const killed = new Set(children.map((child) => String(child.pid)));
  const leftovers = readdirSync(dir).filter((name) => !name.endsWith(".json"));
  for (const name of leftovers) {
    const owner = name.endsWith(".json.lock")
      ? readFileSync(join(dir, name), "utf8").split("\n")[1]
      : /\.tmp-(\d+)-/.exec(name)?.[1];
    assert.ok(owner !== undefined && killed.has(owner), `${name} was left by a killed rekey`);
    const ref = order.find(({ key, kind }) => name.startsWith(`${key}_${kind}.json`))!;
    await onlyNew.write(ref.key, ref.kind, (await onlyNew.read(ref.key, ref.kind))!);
  }
  assert.deepEqual(
    readdirSync(dir).filter((name) => !name.endsWith(".json")),
    [],
    "the next writes cleared what the kills left",
  );
  t.diagnostic(
    `records ${order.length}; kills ${KILL_AT.length}; left half rekeyed: ${mixed.join("; ")}; left by kills: ${leftovers.length}`,
  );
});
