// A refresh writes its tokens only over the record it refreshed (the store's compare-and-set): tokens another writer
// stored meanwhile (a sign-in, a process on a shared store that does not take the refresh lock) are kept and used,
// never overwritten by the older grant's refresh.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { closeAll, fakeOAuth, harness, seedSignedIn, tokensRecord } from "./support/fake-oauth.ts";

after(closeAll);

test("tokens written during a refresh win over the refresh's own", async () => {
  const network = fakeOAuth();
  let writeDuringRefresh: (() => Promise<void>) | undefined;
  const h = harness({
    network: {
      ...network,
      fetchFn: async (input, init) => {
        const body = new URLSearchParams(String(init?.body ?? ""));
        if (body.get("grant_type") === "refresh_token") await writeDuringRefresh?.();
        return network.fetchFn(input, init);
      },
    },
  });
  await seedSignedIn(h, { clientId: "client-known" });
  network.clients.add("client-known");
  writeDuringRefresh = async () => {
    await h.store.write(h.auth.storeKey, "tokens", tokensRecord("at-written-meanwhile", Date.now() + 3_600_000));
  };
  await h.auth.refresh();
  assert.ok(network.requests.includes("POST https://as.example.com/token"), "the refresh reached the token endpoint");
  assert.equal(await h.auth.getAccessToken(), "at-written-meanwhile", "the newer tokens are in use");
  const stored = await h.store.read(h.auth.storeKey, "tokens");
  assert.equal(stored?.tokens.access_token, "at-written-meanwhile", "and were not overwritten");
});

test("without a concurrent writer the refresh marks the record, then stores its tokens over the mark", async () => {
  const h = harness();
  await seedSignedIn(h, { clientId: "client-known" });
  h.network.clients.add("client-known");
  const before = await h.store.read(h.auth.storeKey, "tokens");
  await h.auth.refresh();
  const after = await h.store.read(h.auth.storeKey, "tokens");
  assert.match(after?.tokens.access_token ?? "", /^at-refresh_token-/);
  // One revision for the mark (written before the AS is asked), one for the tokens, which clear it.
  assert.equal(after?.revision, (before?.revision ?? 0) + 2);
  assert.equal(after?.refreshing_by, undefined);
  assert.equal(after?.refreshing_since, undefined);
});
