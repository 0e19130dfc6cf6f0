/** The TokenStore contract as a suite any backend's test file runs (test/unit/store-contract.test.ts lists them). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SharedSignIns } from "../../src/auth/shared-sign-ins.ts";
import { isProxyError } from "../../src/lib/errors.ts";
import { RECORD_KINDS } from "../../src/store/record-schemas.ts";
import { grantKey } from "../../src/store/store-key.ts";
import type { RecordKind, RecordTypes, TokenStore, TokensRecord } from "../../src/store/token-store.ts";
import { asStored, sampleRecords, tokensRecord } from "../integration/store-helpers/records.ts";

/**
 * A backend under test, and for those that can hold one, a way to plant a record as a version from before
 * revisions wrote it (the file store: a file without the field).
 */
export interface ContractBackend {
  create: () => TokenStore;
  plantWithoutRevision?: <K extends RecordKind>(
    store: TokenStore,
    key: string,
    kind: K,
    record: RecordTypes[K],
  ) => void;
}

const KEY = "0123456789abcdef0123456789abcdef";
const OTHER = "fedcba9876543210fedcba9876543210";
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const conflict = (error: unknown) => {
  assert.ok(isProxyError(error, "STORE_CONFLICT"), String(error));
  assert.match(error.hint ?? "", /Another process updated it; read it again/);
  assert.doesNotMatch(error.message, /fake-|access-token/, "names the record, never its values");
  return true;
};

/**
 * The contract every TokenStore backend passes: records, revisions and compare-and-set, grant keys, locks.
 * `create` is called once per test and must give an empty store (a shared backend: a fresh prefix or schema).
 */
export function storeContract(
  name: string,
  { create, plantWithoutRevision }: ContractBackend,
  options: { skip?: string | undefined } = {},
): void {
  describe(`${name} contract`, { skip: options.skip ?? false }, () => {
    test("reads an absent record as undefined", async () => {
      const store = create();
      for (const kind of RECORD_KINDS) assert.equal(await store.read(KEY, kind), undefined);
    });

    for (const kind of RECORD_KINDS) {
      test(`round-trips a ${kind} record`, async () => {
        const store = create();
        const record = sampleRecords[kind]();
        await store.write(KEY, kind, record);
        assert.deepEqual(await store.read(KEY, kind), asStored(record));
        assert.equal(await store.read(OTHER, kind), undefined, "other keys unaffected");
      });
    }

    test("a later write replaces the record; fields it does not know are kept", async () => {
      const store = create();
      await store.write(KEY, "tokens", tokensRecord("first"));
      const second = { ...tokensRecord("second"), added_by_a_later_version: { x: 1 } } as TokensRecord;
      await store.write(KEY, "tokens", second);
      assert.deepEqual(await store.read(KEY, "tokens"), asStored(second, 2));
    });

    test("records are copied in and out", async () => {
      const store = create();
      const record = tokensRecord("original");
      await store.write(KEY, "tokens", record);
      record.tokens.access_token = "mutated-after-write";
      const read = await store.read(KEY, "tokens");
      assert.equal(read?.tokens.access_token, "original");
      read!.tokens.access_token = "mutated-after-read";
      assert.equal((await store.read(KEY, "tokens"))?.tokens.access_token, "original");
    });

    test("refuses to write an invalid record, naming the field but not the values", async () => {
      const store = create();
      const bad = { ...tokensRecord("secret-value-123"), tokens: { token_type: "Bearer" } } as unknown as TokensRecord;
      await assert.rejects(store.write(KEY, "tokens", bad), (error: unknown) => {
        assert.ok(isProxyError(error, "STORE_ERROR"));
        assert.match(error.message, /tokens\.access_token/);
        assert.doesNotMatch(error.message, /secret-value-123/);
        return true;
      });
      await assert.rejects(
        store.write(KEY, "tokens", { ...tokensRecord(), version: 99 }),
        (error: unknown) => isProxyError(error, "STORE_ERROR") && /version must be 1/.test(error.message),
      );
      assert.equal(await store.read(KEY, "tokens"), undefined);
    });

    test("rejects keys that are not store keys", async () => {
      const store = create();
      for (const key of ["../escape", "a/b", "", "a_b"]) {
        await assert.rejects(store.read(key, "tokens"), (e: unknown) => isProxyError(e, "INTERNAL"));
        await assert.rejects(store.write(key, "tokens", tokensRecord()), (e: unknown) => isProxyError(e, "INTERNAL"));
        await assert.rejects(store.remove(key), (e: unknown) => isProxyError(e, "INTERNAL"));
        await assert.rejects(
          store.withLock(key, "refresh", async () => 1),
          (e: unknown) => isProxyError(e, "INTERNAL"),
        );
      }
    });

    test("keys() lists every key with at least one record; remove() removes one kind or all", async () => {
      const store = create();
      assert.deepEqual(await store.keys(), []);
      await store.write(OTHER, "discovery", sampleRecords.discovery());
      for (const kind of RECORD_KINDS) await store.write(KEY, kind, sampleRecords[kind]());
      assert.deepEqual(await store.keys(), [KEY, OTHER].sort());

      await store.remove(KEY, "tokens");
      assert.equal(await store.read(KEY, "tokens"), undefined);
      assert.deepEqual(await store.read(KEY, "client_info"), asStored(sampleRecords.client_info()));
      assert.deepEqual(await store.keys(), [KEY, OTHER].sort());

      await store.remove(KEY);
      for (const kind of RECORD_KINDS) assert.equal(await store.read(KEY, kind), undefined);
      assert.deepEqual(await store.keys(), [OTHER]);

      await store.remove(OTHER, "discovery");
      assert.deepEqual(await store.keys(), []);
      await store.remove(OTHER); // absent: no error
    });

    test("withLock returns fn's result, passes its error through, and releases either way", async () => {
      const store = create();
      assert.equal(await store.withLock(KEY, "refresh", async () => 42), 42);
      await assert.rejects(
        store.withLock(KEY, "refresh", async () => {
          throw new Error("boom");
        }),
        /boom/,
      );
      assert.equal(await store.withLock(KEY, "refresh", async () => "again", { waitMs: 1000 }), "again");
    });

    test("concurrent withLock calls in one process serialise (read-modify-write loses nothing)", async () => {
      const store = create();
      await store.write(KEY, "tokens", tokensRecord("0"));
      let inside = 0;
      let maxInside = 0;
      const increment = () =>
        store.withLock(KEY, "refresh", async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          const current = await store.read(KEY, "tokens");
          await delay(Math.random() * 3);
          await store.write(KEY, "tokens", tokensRecord(String(Number(current?.tokens.access_token) + 1)));
          inside--;
        });
      await Promise.all(Array.from({ length: 25 }, increment));
      assert.equal((await store.read(KEY, "tokens"))?.tokens.access_token, "25");
      assert.equal(maxInside, 1);
    });

    test("a held lock makes others wait, then time out with STORE_ERROR", async () => {
      const store = create();
      let release!: () => void;
      const held = store.withLock(KEY, "sign-in", () => new Promise<void>((resolve) => (release = resolve)));
      await delay(20);
      await assert.rejects(
        store.withLock(KEY, "sign-in", async () => "never", { waitMs: 150 }),
        (error: unknown) => {
          assert.ok(isProxyError(error, "STORE_ERROR"));
          assert.match(error.message, /Timed out after 150 ms waiting for the sign-in lock/);
          return true;
        },
      );
      // Other names and keys are independent of it.
      assert.equal(await store.withLock(KEY, "refresh", async () => "r", { waitMs: 150 }), "r");
      assert.equal(await store.withLock(OTHER, "sign-in", async () => "o", { waitMs: 150 }), "o");
      // A waiter that is still waiting gets the lock when the holder finishes.
      const waiter = store.withLock(KEY, "sign-in", async () => "got it", { waitMs: 5000 });
      await delay(20);
      release();
      await held;
      assert.equal(await waiter, "got it");
    });

    describe("revisions and compare-and-set", () => {
      test("the first write is revision 1, every later one adds 1; reads carry it", async () => {
        const store = create();
        assert.equal(await store.write(KEY, "tokens", tokensRecord("one")), 1);
        assert.equal((await store.read(KEY, "tokens"))?.revision, 1);
        assert.equal(await store.write(KEY, "tokens", tokensRecord("two")), 2);
        assert.equal(await store.write(KEY, "tokens", tokensRecord("three")), 3);
        assert.deepEqual(await store.read(KEY, "tokens"), asStored(tokensRecord("three"), 3));
        // Per record: another kind or key starts at 1.
        assert.equal(await store.write(KEY, "discovery", sampleRecords.discovery()), 1);
        assert.equal(await store.write(OTHER, "tokens", tokensRecord()), 1);
      });

      test("a revision in the written value is ignored: the store sets its own", async () => {
        const store = create();
        await store.write(KEY, "tokens", tokensRecord("one"));
        const read = await store.read(KEY, "tokens");
        assert.equal(await store.write(KEY, "tokens", { ...read!, revision: 99 }), 2);
        assert.equal((await store.read(KEY, "tokens"))?.revision, 2);
      });

      test("a compare-and-set with the stored revision writes and returns the next one", async () => {
        const store = create();
        await store.write(KEY, "tokens", tokensRecord("one"));
        const read = await store.read(KEY, "tokens");
        const written = await store.write(KEY, "tokens", tokensRecord("two"), { expectedRevision: read!.revision });
        assert.equal(written, 2);
        assert.deepEqual(await store.read(KEY, "tokens"), asStored(tokensRecord("two"), 2));
        // expectedRevision undefined is a plain write.
        assert.equal(await store.write(KEY, "tokens", tokensRecord("three"), { expectedRevision: undefined }), 3);
      });

      test("a stale compare-and-set is rejected with STORE_CONFLICT and writes nothing", async () => {
        const store = create();
        await store.write(KEY, "tokens", tokensRecord("one"));
        const mine = await store.read(KEY, "tokens");
        const theirs = await store.read(KEY, "tokens");
        await store.write(KEY, "tokens", tokensRecord("theirs"), { expectedRevision: theirs!.revision });
        await assert.rejects(
          store.write(KEY, "tokens", tokensRecord("mine"), { expectedRevision: mine!.revision }),
          (error: unknown) => {
            conflict(error);
            assert.match(
              (error as Error).message,
              /tokens record of 0123456789abcdef.*expected revision 1, but it is at revision 2/,
            );
            assert.deepEqual((error as { details?: unknown }).details, {
              key: KEY,
              kind: "tokens",
              expectedRevision: 1,
              revision: 2,
            });
            return true;
          },
        );
        assert.deepEqual(await store.read(KEY, "tokens"), asStored(tokensRecord("theirs"), 2));
        // Reading again and retrying succeeds.
        const again = await store.read(KEY, "tokens");
        assert.equal(await store.write(KEY, "tokens", tokensRecord("mine"), { expectedRevision: again!.revision }), 3);
      });

      test("expectedRevision null: only when there is no record; a number: only when there is one", async () => {
        const store = create();
        await assert.rejects(store.write(KEY, "tokens", tokensRecord("x"), { expectedRevision: 0 }), conflict);
        await assert.rejects(store.write(KEY, "tokens", tokensRecord("x"), { expectedRevision: 1 }), conflict);
        assert.equal(await store.read(KEY, "tokens"), undefined, "nothing written");
        assert.equal(await store.write(KEY, "tokens", tokensRecord("created"), { expectedRevision: null }), 1);
        await assert.rejects(
          store.write(KEY, "tokens", tokensRecord("second creator"), { expectedRevision: null }),
          (error: unknown) =>
            conflict(error) && /expected no record, but it is at revision 1/.test((error as Error).message),
        );
        assert.equal((await store.read(KEY, "tokens"))?.tokens.access_token, "created");
      });

      test("a removed record forgets its revision: written again, it starts at 1", async () => {
        const store = create();
        await store.write(KEY, "tokens", tokensRecord("one"));
        await store.write(KEY, "tokens", tokensRecord("two"));
        await store.remove(KEY, "tokens");
        await assert.rejects(store.write(KEY, "tokens", tokensRecord(), { expectedRevision: 2 }), conflict);
        assert.equal(await store.write(KEY, "tokens", tokensRecord("new"), { expectedRevision: null }), 1);
      });

      test("concurrent compare-and-sets of one revision in this process: exactly one wins", async () => {
        const store = create();
        await store.write(KEY, "tokens", tokensRecord("start"));
        const outcomes = await Promise.allSettled(
          Array.from({ length: 12 }, (_, i) =>
            store.write(KEY, "tokens", tokensRecord(`writer-${i}`), { expectedRevision: 1 }),
          ),
        );
        const won = outcomes.filter((o) => o.status === "fulfilled");
        assert.equal(won.length, 1);
        assert.equal((won[0] as PromiseFulfilledResult<number>).value, 2);
        for (const lost of outcomes.filter((o) => o.status === "rejected")) conflict(lost.reason);
        const winner = outcomes.indexOf(won[0]!);
        assert.deepEqual(await store.read(KEY, "tokens"), asStored(tokensRecord(`writer-${winner}`), 2));
      });

      test("read + compare-and-set with retry loses no update, without withLock", async () => {
        const store = create();
        const increment = async () => {
          for (;;) {
            const current = await store.read(KEY, "tokens");
            const next = String(Number(current?.tokens.access_token ?? "0") + 1);
            await delay(Math.random() * 2);
            try {
              return await store.write(KEY, "tokens", tokensRecord(next), {
                expectedRevision: current ? current.revision : null,
              });
            } catch (error) {
              if (!isProxyError(error, "STORE_CONFLICT")) throw error;
            }
          }
        };
        const revisions = await Promise.all(Array.from({ length: 20 }, increment));
        assert.deepEqual(
          revisions.sort((a, b) => a - b),
          Array.from({ length: 20 }, (_, i) => i + 1),
          "every revision handed out once",
        );
        assert.deepEqual(await store.read(KEY, "tokens"), asStored(tokensRecord("20"), 20));
      });

      if (plantWithoutRevision) {
        test("a record written before revisions existed reads as revision 0 and can be compare-and-set", async () => {
          const store = create();
          await store.keys();
          plantWithoutRevision(store, KEY, "tokens", tokensRecord("old"));
          assert.deepEqual(await store.read(KEY, "tokens"), asStored(tokensRecord("old"), 0));
          await assert.rejects(store.write(KEY, "tokens", tokensRecord("x"), { expectedRevision: null }), conflict);
          await assert.rejects(store.write(KEY, "tokens", tokensRecord("x"), { expectedRevision: 1 }), conflict);
          assert.equal(await store.write(KEY, "tokens", tokensRecord("new"), { expectedRevision: 0 }), 1);
          assert.deepEqual(await store.read(KEY, "tokens"), asStored(tokensRecord("new"), 1));
        });
      }
    });

    describe("grant keys", () => {
      const ALICE = grantKey(KEY, "alice@example.com");
      const BOB = grantKey(KEY, "bob@example.com");
      const OTHER_ALICE = grantKey(OTHER, "alice@example.com");

      test("each principal's tokens are their own; the default grant is the upstream key", async () => {
        const store = create();
        assert.equal(grantKey(KEY), KEY);
        await store.write(KEY, "tokens", tokensRecord("default"));
        await store.write(ALICE, "tokens", tokensRecord("alice"));
        await store.write(BOB, "tokens", tokensRecord("bob"));
        assert.equal((await store.read(KEY, "tokens"))?.tokens.access_token, "default");
        assert.equal((await store.read(ALICE, "tokens"))?.tokens.access_token, "alice");
        assert.equal((await store.read(BOB, "tokens"))?.tokens.access_token, "bob");
        assert.equal(await store.read(OTHER_ALICE, "tokens"), undefined);
        // Revisions and compare-and-set are per grant.
        assert.equal((await store.read(ALICE, "tokens"))?.revision, 1);
        await assert.rejects(store.write(BOB, "tokens", tokensRecord(), { expectedRevision: null }), conflict);
        assert.equal(await store.write(ALICE, "tokens", tokensRecord("alice 2"), { expectedRevision: 1 }), 2);
        assert.equal((await store.read(BOB, "tokens"))?.revision, 1);
      });

      test("keys() lists upstream keys only; grantKeys() lists an upstream's grants, the default one included", async () => {
        const store = create();
        assert.deepEqual(await store.grantKeys(KEY), []);
        await store.write(KEY, "client_info", sampleRecords.client_info());
        await store.write(ALICE, "tokens", tokensRecord("alice"));
        await store.write(OTHER_ALICE, "tokens", tokensRecord("alice elsewhere"));
        assert.deepEqual(
          await store.keys(),
          [KEY, OTHER].sort(),
          "an upstream with only a principal's grant is listed",
        );
        assert.deepEqual(await store.grantKeys(KEY), [ALICE], "no default grant without its tokens");
        await store.write(KEY, "tokens", tokensRecord("default"));
        await store.write(BOB, "tokens", tokensRecord("bob"));
        assert.deepEqual(await store.grantKeys(KEY), [KEY, ALICE, BOB].sort());
        assert.equal((await store.grantKeys(KEY))[0], KEY, "the default grant sorts first");
        assert.deepEqual(await store.grantKeys(OTHER), [OTHER_ALICE]);
        await assert.rejects(store.grantKeys(ALICE), (e: unknown) => isProxyError(e, "INTERNAL"));
      });

      test("a grant key holds tokens only: client_info and discovery under it are refused", async () => {
        const store = create();
        for (const kind of ["client_info", "discovery"] as const) {
          const inside = (e: unknown) => isProxyError(e, "INTERNAL") && /belongs to the upstream key/.test(e.message);
          await assert.rejects(store.write(ALICE, kind, sampleRecords[kind]()), inside);
          await assert.rejects(store.read(ALICE, kind), inside);
          await assert.rejects(store.remove(ALICE, kind), inside);
        }
        assert.deepEqual(await store.keys(), []);
      });

      test("a pending sign-in lives under the grant key of who started it, and is taken once", async () => {
        const store = create();
        const flows = new SharedSignIns(store, ALICE, "https://mcp.example.com/mcp", () => 1_899_996_500_000);
        const flow = {
          state: "fake-state-alice",
          codeVerifier: "fake-verifier-alice",
          redirectUri: "http://127.0.0.1:8000/oauth/callback",
          scope: "mcp:tools",
          clientSource: "dynamic" as const,
          startedAt: 1_899_996_400_000,
          expiresAt: 1_899_996_700_000,
        };
        await flows.save(flow);
        assert.deepEqual(await store.keys(), [KEY], "listed under its upstream");
        assert.deepEqual(await store.grantKeys(KEY), [], "a sign-in is not a grant");
        const bobs = new SharedSignIns(store, BOB, "https://mcp.example.com/mcp", () => 1_899_996_500_000);
        assert.deepEqual(await bobs.take(flow.state), { outcome: "unknown" }, "another person's state is not found");
        assert.deepEqual(await flows.take("fake-state-other"), { outcome: "unknown" });
        // Two replicas given the same state at once: one exchanges the code, the other is told it was used.
        const outcomes = await Promise.all([flows.take(flow.state), flows.take(flow.state)]);
        const taken = outcomes.filter((outcome) => outcome.outcome === "taken");
        assert.equal(taken.length, 1, JSON.stringify(outcomes.map((o) => o.outcome)));
        assert.deepEqual(taken[0], { outcome: "taken", flow });
        assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ["taken", "used"]);
        assert.deepEqual(await flows.take(flow.state), { outcome: "used" });
        // Sign-ins started at once on several replicas all stay pending (one record, compare-and-set).
        const states = ["fake-state-a", "fake-state-b", "fake-state-c"];
        await Promise.all(states.map((state) => flows.save({ ...flow, state })));
        for (const state of states) assert.equal((await flows.take(state)).outcome, "taken", state);
      });

      test("an expired pending sign-in is refused and removed", async () => {
        const store = create();
        const late = new SharedSignIns(store, ALICE, "https://mcp.example.com/mcp", () => 1_899_996_800_000);
        await late.save({
          state: "fake-state-late",
          codeVerifier: "fake-verifier-late",
          redirectUri: "http://127.0.0.1:8000/oauth/callback",
          scope: undefined,
          startedAt: 1_899_996_400_000,
          expiresAt: 1_899_996_700_000,
        });
        assert.deepEqual(await late.take("fake-state-late"), { outcome: "expired" });
        assert.equal(await store.read(ALICE, "sign_in"), undefined, "dropped once expired");
      });

      test("remove(grant) removes that grant; remove(upstream, 'tokens') the default one; remove(upstream) all", async () => {
        const store = create();
        for (const kind of RECORD_KINDS) await store.write(KEY, kind, sampleRecords[kind]());
        for (const key of [ALICE, BOB, OTHER_ALICE]) await store.write(key, "tokens", tokensRecord(key));
        await store.write(OTHER, "tokens", tokensRecord("other default"));

        await store.remove(BOB);
        assert.equal(await store.read(BOB, "tokens"), undefined);
        assert.deepEqual(await store.grantKeys(KEY), [KEY, ALICE].sort());

        await store.remove(KEY, "tokens");
        assert.deepEqual(await store.grantKeys(KEY), [ALICE]);
        assert.ok(await store.read(KEY, "client_info"), "the upstream's own records stay");

        await store.write(BOB, "tokens", tokensRecord("bob again"));
        await store.remove(KEY);
        for (const kind of RECORD_KINDS) assert.equal(await store.read(KEY, kind), undefined);
        for (const key of [ALICE, BOB]) assert.equal(await store.read(key, "tokens"), undefined, key);
        assert.deepEqual(await store.grantKeys(KEY), []);
        assert.deepEqual(await store.keys(), [OTHER], "another upstream and its grants are untouched");
        assert.deepEqual(await store.grantKeys(OTHER), [OTHER, OTHER_ALICE].sort());
      });

      test("locks on a grant key are the grant's own", async () => {
        const store = create();
        const result = await store.withLock(ALICE, "refresh", async () => {
          // Another grant's and the upstream's lock are free meanwhile.
          const others = await Promise.all([
            store.withLock(BOB, "refresh", async () => "bob", { waitMs: 1000 }),
            store.withLock(KEY, "refresh", async () => "default", { waitMs: 1000 }),
          ]);
          await assert.rejects(
            store.withLock(ALICE, "refresh", async () => "again", { waitMs: 50 }),
            (e: unknown) => isProxyError(e, "STORE_ERROR"),
          );
          return others.join(",");
        });
        assert.equal(result, "bob,default");
      });
    });
  });
}
