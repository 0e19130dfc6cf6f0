/**
 * The Redis and PostgreSQL stores against real servers (test/support/store-servers.ts): the whole TokenStore
 * contract, then what only a shared store has to show: two instances (as two replicas) racing compare-and-sets,
 * change notifications, a lease lost to a stall with the stale holder's write fenced off, and an outage.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { isProxyError } from "../../src/lib/errors.ts";
import { PostgresTokenStore } from "../../src/store/postgres-store.ts";
import { generateStoreKey } from "../../src/store/record-cipher.ts";
import { RedisTokenStore } from "../../src/store/redis-store.ts";
import { SealedTokenStore } from "../../src/store/sealed-store.ts";
import type { StoreChange, TokenStore } from "../../src/store/token-store.ts";
import { sealedContract } from "../support/sealed-contract.ts";
import { storeContract } from "../support/store-contract.ts";
import { sharedServersMissing, startPostgres, startRedis, type TestServer } from "../support/store-servers.ts";
import { tokensRecord } from "./store-helpers/records.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface SharedBackend {
  name: string;
  skip: string | undefined;
  start: () => Promise<TestServer>;
  /** A store on `url` in namespace `space` (Redis key prefix, Postgres schema). */
  open: (url: string, space: string, options?: { leaseMs?: number; onWarning?: (m: string) => void }) => TokenStore;
}

const backends: SharedBackend[] = [
  {
    name: "RedisTokenStore",
    skip: sharedServersMissing("redis"),
    start: startRedis,
    open: (url, space, options = {}) => new RedisTokenStore({ url, prefix: `${space}:`, ...options }),
  },
  {
    name: "PostgresTokenStore",
    skip: sharedServersMissing("postgres"),
    start: startPostgres,
    open: (url, space, options = {}) => new PostgresTokenStore({ url, schema: space, ...options }),
  },
];

/** Waits (bounded) until `check` holds; the bound only turns a hang into a failure, it asserts no timing. */
async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const until = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`never happened: ${what}`);
    await delay(20);
  }
}

for (const backend of backends) {
  let server: TestServer;
  let spaces = 0;
  const stores: TokenStore[] = [];
  const open: SharedBackend["open"] = (url, space, options) => {
    const store = backend.open(url, space, options);
    stores.push(store);
    return store;
  };

  describe(backend.name, { skip: backend.skip ?? false }, () => {
    before(async () => {
      server = await backend.start();
    });
    after(async () => {
      await Promise.all(stores.map((store) => store.close?.()));
      await server?.close();
    });

    storeContract(backend.name, { create: () => open(server.url, `c${++spaces}`) });
    // Encryption at rest is a decorator over any backend: the same contract through it, and its own promises.
    const key = generateStoreKey();
    storeContract(`${backend.name} encrypted`, {
      create: () => new SealedTokenStore(open(server.url, `c${++spaces}`), { key }),
    });
    sealedContract(backend.name, () => open(server.url, `c${++spaces}`));

    describe("shared by several replicas", () => {
      test("two instances racing compare-and-set increments: every revision handed out once", async () => {
        const space = `s${++spaces}`;
        const replicas = [open(server.url, space), open(server.url, space)];
        const increment = async (store: TokenStore) => {
          for (;;) {
            const current = await store.read(KEY, "tokens");
            const next = String(Number(current?.tokens.access_token ?? "0") + 1);
            try {
              return await store.write(KEY, "tokens", tokensRecord(next), {
                expectedRevision: current ? current.revision : null,
              });
            } catch (error) {
              if (!isProxyError(error, "STORE_CONFLICT")) throw error;
            }
          }
        };
        const revisions = await Promise.all(Array.from({ length: 40 }, (_, i) => increment(replicas[i % 2]!)));
        assert.deepEqual(
          revisions.sort((a, b) => a - b),
          Array.from({ length: 40 }, (_, i) => i + 1),
        );
        assert.equal((await replicas[1]!.read(KEY, "tokens"))?.tokens.access_token, "40");
      });

      test("another instance's write and removal change the stamp and reach watch() listeners", async () => {
        const space = `s${++spaces}`;
        const [writer, reader] = [open(server.url, space), open(server.url, space)];
        const heard: StoreChange[] = [];
        reader.watch?.((change) => heard.push(change));
        // The notification channel is up once its (re)connection was announced.
        await eventually(() => heard.some((c) => c.key === undefined), "the channel connected");
        const before = await reader.stamp!(KEY, "tokens");
        await writer.write(KEY, "tokens", tokensRecord("from the writer"));
        await eventually(async () => (await reader.stamp!(KEY, "tokens")) !== before, "the stamp changed");
        assert.ok(heard.some((c) => c.key === KEY && c.kind === "tokens"));
        const afterWrite = await reader.stamp!(KEY, "tokens");
        await writer.remove(KEY);
        await eventually(async () => (await reader.stamp!(KEY, "tokens")) !== afterWrite, "removal noticed");
        assert.ok(
          heard.some((c) => c.key === KEY && c.kind === undefined),
          "a clear of the upstream",
        );
        // The stamp of a record nobody touched stays.
        assert.equal(
          await reader.stamp!("fedcba9876543210fedcba9876543210", "tokens"),
          await reader.stamp!("fedcba9876543210fedcba9876543210", "tokens"),
        );
      });

      test("a holder stalled past its lease loses it, is told, and its fenced write cannot overwrite the next holder's", async () => {
        const space = `s${++spaces}`;
        const warnings: string[] = [];
        const a = open(server.url, space, { leaseMs: 300, onWarning: (m) => warnings.push(m) });
        const b = open(server.url, space, { leaseMs: 300 });
        await a.write(KEY, "tokens", tokensRecord("start"));
        let bInside = false;
        let aDone = false;
        const aRun = a.withLock(KEY, "refresh", async (lock) => {
          const read = await a.read(KEY, "tokens");
          // Stall the whole process (a GC pause, a stopped VM) for three leases: nobody renews.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 900);
          await eventually(() => lock.lost && bInside, "lost, and the next holder inside");
          assert.ok(lock.signal.aborted);
          // B has written meanwhile: A's write of what it computed from the old record is refused.
          await eventually(async () => (await a.read(KEY, "tokens"))?.revision === 2, "B wrote");
          await assert.rejects(
            a.write(KEY, "tokens", tokensRecord("stale"), { expectedRevision: read!.revision }),
            (error: unknown) => isProxyError(error, "STORE_CONFLICT"),
          );
          aDone = true;
        });
        await delay(50);
        const bRun = b.withLock(
          KEY,
          "refresh",
          async () => {
            bInside = true;
            assert.equal(aDone, false, "B got in while A still ran: A's lease had ended");
            await b.write(KEY, "tokens", tokensRecord("from B"), { expectedRevision: 1 });
          },
          { waitMs: 10_000 },
        );
        await Promise.all([aRun, bRun]);
        assert.equal((await b.read(KEY, "tokens"))?.tokens.access_token, "from B");
        assert.ok(
          warnings.some((m) => /Lost the lease .*refresh/.test(m)),
          warnings.join("\n"),
        );
      });

      test("an outage: clear STORE_ERRORs naming the server without its password, then recovery without a restart", async () => {
        const space = `s${++spaces}`;
        const store = open(server.url, space);
        await store.write(KEY, "tokens", tokensRecord("before"));
        await server.stop();
        try {
          for (const attempt of [
            () => store.read(KEY, "tokens"),
            () => store.write(KEY, "tokens", tokensRecord("x")),
          ]) {
            await assert.rejects(attempt(), (error: unknown) => {
              assert.ok(isProxyError(error, "STORE_ERROR"), String(error));
              assert.match(error.message, /token store .*127\.0\.0\.1:\d+.* is unreachable/);
              assert.doesNotMatch(error.message, /not-the-password/);
              assert.match(error.hint ?? "", /tokens already in memory keep working/);
              return true;
            });
          }
        } finally {
          await server.start();
        }
        await eventually(
          () =>
            store.read(KEY, "tokens").then(
              (r) => r?.tokens.access_token === "before",
              () => false,
            ),
          "the store answers again",
        );
        assert.equal(await store.write(KEY, "tokens", tokensRecord("after"), { expectedRevision: 1 }), 2);
      });
    });
  });
}
