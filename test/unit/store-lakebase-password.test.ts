// Every decision of the Lakebase password source (src/store/lakebase-password.ts) with a fake token endpoint (an
// injected fetch) and a fake clock: when it applies, where it asks, how long a token is reused, what failures say.
// The real login with such a token is test/integration/store-lakebase-password.test.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { lakebasePassword, TOKEN_RENEW_MARGIN_MS } from "../../src/store/lakebase-password.ts";

const ENV = {
  DATABRICKS_HOST: "my-workspace.cloud.databricks.test",
  DATABRICKS_CLIENT_ID: "sp-client-id",
  DATABRICKS_CLIENT_SECRET: "sp-secret-value",
};

function tokenEndpoint(
  answer: (n: number) => Response = (n) => Response.json({ access_token: `tok-${n}`, expires_in: 3600 }),
) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetchFn = async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return answer(calls.length);
  };
  return { calls, fetchFn };
}

test("does not apply with PGPASSWORD set or without the service principal's variables", () => {
  const { fetchFn } = tokenEndpoint();
  assert.equal(lakebasePassword({ ...ENV, PGPASSWORD: "native" }, fetchFn), undefined);
  for (const name of Object.keys(ENV)) {
    assert.equal(lakebasePassword({ ...ENV, [name]: "" }, fetchFn), undefined, name);
  }
});

test("asks the workspace's token endpoint with client credentials and scope all-apis", async () => {
  const { calls, fetchFn } = tokenEndpoint();
  const password = lakebasePassword(ENV, fetchFn);
  assert.equal(await password?.(), "tok-1");
  assert.equal(calls[0]?.url, "https://my-workspace.cloud.databricks.test/oidc/v1/token");
  const headers = calls[0]?.init.headers as Record<string, string>;
  assert.equal(headers.authorization, `Basic ${Buffer.from("sp-client-id:sp-secret-value").toString("base64")}`);
  const body = new URLSearchParams(String(calls[0]?.init.body));
  assert.equal(body.get("grant_type"), "client_credentials");
  assert.equal(body.get("scope"), "all-apis");
});

test("reuses a token until the renewal margin before its expiry, then fetches a new one", async () => {
  const { calls, fetchFn } = tokenEndpoint();
  let now = 1_000_000;
  const password = lakebasePassword(ENV, fetchFn, () => now);
  assert.equal(await password?.(), "tok-1");
  now += 3_600_000 - TOKEN_RENEW_MARGIN_MS - 1;
  assert.equal(await password?.(), "tok-1");
  now += 2;
  assert.equal(await password?.(), "tok-2");
  assert.equal(calls.length, 2);
});

test("connections opened together share one token request", async () => {
  const { calls, fetchFn } = tokenEndpoint();
  const password = lakebasePassword(ENV, fetchFn);
  const tokens = await Promise.all([password?.(), password?.(), password?.()]);
  assert.deepEqual(tokens, ["tok-1", "tok-1", "tok-1"]);
  assert.equal(calls.length, 1);
});

test("a refused or unreachable token endpoint is a clear store error naming what to check, never the secret", async () => {
  const refused = tokenEndpoint(() => Response.json({ error: "invalid_client" }, { status: 401 }));
  const error = await lakebasePassword(ENV, refused.fetchFn)?.().then(
    () => assert.fail("no token"),
    (e: unknown) => e as { code: string; message: string; hint: string },
  );
  assert.equal(error?.code, "STORE_ERROR");
  assert.match(error?.message ?? "", /HTTP 401 \(invalid_client\)/);
  assert.match(error?.hint ?? "", /DATABRICKS_CLIENT_SECRET/);
  assert.doesNotMatch(JSON.stringify({ m: error?.message, h: error?.hint }), /sp-secret-value/);

  const down = lakebasePassword(ENV, async () => {
    throw new TypeError("fetch failed");
  });
  await assert.rejects(down?.() ?? Promise.resolve(), /could not reach .*fetch failed/);
  // After a failure the next connection asks again.
  const flaky = tokenEndpoint((n) =>
    n === 1 ? new Response("busy", { status: 503 }) : Response.json({ access_token: "tok-2" }),
  );
  const password = lakebasePassword(ENV, flaky.fetchFn);
  await assert.rejects(password?.() ?? Promise.resolve(), /HTTP 503/);
  assert.equal(await password?.(), "tok-2");
});

test("DATABRICKS_HOST must be https, or http to a loopback host only", () => {
  const { fetchFn } = tokenEndpoint();
  assert.throws(() => lakebasePassword({ ...ENV, DATABRICKS_HOST: "http://workspace.example.test" }, fetchFn), /https/);
  assert.ok(lakebasePassword({ ...ENV, DATABRICKS_HOST: "http://127.0.0.1:8080" }, fetchFn));
  assert.ok(lakebasePassword({ ...ENV, DATABRICKS_HOST: "https://ws.example.test/" }, fetchFn));
  assert.throws(() => lakebasePassword({ ...ENV, DATABRICKS_HOST: "https://" }, fetchFn), /not a host name or URL/);
});
