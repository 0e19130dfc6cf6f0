// The per-user auth cores a replica holds (HotGrants behind PerUserAuth): at most --max-grants of them, the least
// recently used idle one evicted (its listeners removed, closed, its store subscription dropped), its grant re-read
// from the store on the user's next request, and never evicted while an operation or a sign-in holds it.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { AuthStatus, SignInHandle } from "../../src/auth/auth-client.ts";
import { UpstreamAuth } from "../../src/auth/upstream-auth.ts";
import { type Caller, runAsCaller } from "../../src/server/identity/caller.ts";
import { HotGrants } from "../../src/server/identity/hot-grants.ts";
import { PerUserAuth, type UserAuth } from "../../src/server/identity/per-user-auth.ts";
import { MemoryTokenStore } from "../../src/store/memory-store.ts";
import { grantKey } from "../../src/store/store-key.ts";
import type { StoreChange } from "../../src/store/token-store.ts";
import { closeAll, fakeOAuth, harness, RUNTIME, seedSignedIn, tokensRecord, upstreamOf } from "./support/fake-oauth.ts";

after(closeAll);

const user = (name: string): Caller => ({ id: name, principal: `header:${name}`, label: name, admin: false });
const [alice, bob, carol] = [user("alice"), user("bob"), user("carol")];

/** A store whose change notifications are counted, as a shared store's would be (Redis pub/sub, LISTEN/NOTIFY). */
class WatchedMemoryStore extends MemoryTokenStore {
  readonly watchers = new Set<(change: StoreChange) => void>();
  watch(listener: (change: StoreChange) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }
}

interface FakeCore extends UserAuth {
  closed: boolean;
  listeners: number;
}

/** A core that records what happens to it; `gate` holds getAccessToken open until released. */
function fakeCore(options: { gate?: Promise<void>; pending?: boolean } = {}): FakeCore {
  const status: AuthStatus = {
    serverUrl: "https://mcp.example",
    signedIn: true,
    hasRefreshToken: true,
    scopes: [],
    storeKey: "",
  };
  const core: FakeCore = {
    serverUrl: "https://mcp.example",
    closed: false,
    listeners: 0,
    getAccessToken: async () => {
      await options.gate;
      return "at";
    },
    onChallenge: async () => ({ action: "fail", error: new Error("no") }) as never,
    startSignIn: async () => ({}) as SignInHandle,
    handleCallback: async () => ({ ok: true }) as never,
    pendingSignIn: () => (options.pending ? ({} as SignInHandle) : undefined),
    status: async () => status,
    onStateChange: () => {
      core.listeners++;
      return () => void core.listeners--;
    },
    onRefresh: () => {
      core.listeners++;
      return () => void core.listeners--;
    },
    clear: async () => ({}),
    ownsSignIn: () => false,
    close: async () => {
      core.closed = true;
    },
  };
  return core;
}

describe("hot grants", () => {
  test("above the cap the least recently used core is evicted: listeners removed, closed, made anew on return", async () => {
    const cores: Record<string, FakeCore[]> = { alice: [], bob: [], carol: [] };
    const auth = new PerUserAuth({
      serverUrl: "https://mcp.example",
      maxGrants: 2,
      create: (caller) => {
        const core = fakeCore();
        cores[caller.label]?.push(core);
        return core;
      },
    });
    await runAsCaller(alice, () => auth.status());
    await runAsCaller(bob, () => auth.status());
    await runAsCaller(alice, () => auth.status()); // alice is now the most recent: bob goes first
    await runAsCaller(carol, () => auth.status());
    assert.equal(auth.hotUsers, 2);
    const [bobFirst] = cores.bob as FakeCore[];
    assert.equal(bobFirst?.closed, true);
    assert.equal(bobFirst?.listeners, 0, "the evicted core's listeners are removed");
    assert.equal(cores.alice?.[0]?.closed, false);
    assert.equal(cores.alice?.[0]?.listeners, 2);

    await runAsCaller(bob, () => auth.getAccessToken());
    assert.equal(cores.bob?.length, 2, "bob's core is made again on his next request");
    assert.equal(cores.alice?.[0]?.closed, true, "alice was then the least recently used");
    assert.deepEqual(
      (await auth.userStates()).map((state) => state.label).sort(),
      ["bob", "carol"],
      "the admin view lists the hot users",
    );

    await auth.close();
    for (const list of Object.values(cores)) for (const core of list) assert.ok(core.closed && core.listeners === 0);
  });

  test("a core with an operation in flight, or a sign-in waiting for its callback, is kept until it is done", async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const cores: Record<string, FakeCore> = {};
    const auth = new PerUserAuth({
      serverUrl: "https://mcp.example",
      maxGrants: 1,
      create: (caller) => {
        const core = fakeCore(caller === alice ? { gate } : caller === carol ? { pending: true } : {});
        cores[caller.label] = core;
        return core;
      },
    });
    const inFlight = runAsCaller(alice, () => auth.getAccessToken());
    await runAsCaller(bob, () => auth.status());
    assert.equal(cores.alice?.closed, false, "alice's request is still running on her core");
    assert.equal(auth.hotUsers, 2, "over the cap while it runs");
    release();
    assert.equal(await inFlight, "at");
    assert.equal(cores.alice?.closed, true, "evicted once her request is done");
    assert.equal(auth.hotUsers, 1);

    await runAsCaller(carol, () => auth.status());
    await runAsCaller(bob, () => auth.status());
    assert.equal(cores.carol?.closed, false, "a pending sign-in keeps its core, so its callback finds it");
    await auth.close();
  });

  test("the cap is a whole number of at least 1", () => {
    assert.throws(() => new HotGrants(0), RangeError);
    assert.throws(() => new HotGrants(1.5), RangeError);
  });

  test("real cores: an evicted user's store subscription is dropped and their tokens re-read from the store", async () => {
    const store = new WatchedMemoryStore();
    const network = fakeOAuth();
    const h = harness({ store, network }); // the upstream's own core seeds registration and discovery
    await seedSignedIn(h, { tokens: false });
    const upstreamKey = h.auth.storeKey;
    const baseline = store.watchers.size;
    for (const who of [alice, bob]) {
      await store.write(
        grantKey(upstreamKey, who.principal),
        "tokens",
        tokensRecord(`at-${who.id}-1`, Date.now() + 3_600_000),
      );
    }
    const auth = new PerUserAuth({
      serverUrl: h.auth.serverUrl,
      maxGrants: 1,
      create: (caller) =>
        new UpstreamAuth(upstreamOf(), RUNTIME, {
          store,
          callback: "external",
          fetch: network.fetchFn,
          printSignInUrl: () => {},
          principal: caller.principal,
        }),
    });
    assert.equal(await runAsCaller(alice, () => auth.getAccessToken()), "at-alice-1");
    assert.equal(store.watchers.size, baseline + 1);
    assert.equal(await runAsCaller(bob, () => auth.getAccessToken()), "at-bob-1");
    await until(() => store.watchers.size === baseline + 1);
    assert.equal(store.watchers.size, baseline + 1, "alice's core was evicted and stopped watching the store");

    // Another replica refreshed alice's grant meanwhile: her next request reads the store's copy.
    await store.write(
      grantKey(upstreamKey, alice.principal),
      "tokens",
      tokensRecord("at-alice-2", Date.now() + 3_600_000),
    );
    assert.equal(await runAsCaller(alice, () => auth.getAccessToken()), "at-alice-2");
    await auth.close();
    assert.equal(store.watchers.size, baseline);
  });
});

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !predicate(); i++) await new Promise((resolve) => setImmediate(resolve));
}
