// A Databricks Apps Lakebase resource against a real PostgreSQL server whose role for the app's service principal
// needs its password (scram-sha-256), as Lakebase does: the store is configured as the resource configures it
// (`--store postgres:`, PG* variables and no PGPASSWORD, DATABRICKS_HOST/CLIENT_ID/CLIENT_SECRET) and logs in with a
// workspace token as the password. The workspace's token endpoint cannot run here: a small loopback HTTP server
// stands in for it, issuing short-lived tokens and making each one the role's password as Lakebase would. After a
// token expires and the pool's connections are gone, the store logs in again with a new token, without a restart.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { PostgresTokenStore } from "../../src/store/postgres-store.ts";
import { sharedServersMissing, startPostgres, type TestServer } from "../support/store-servers.ts";
import { tokensRecord } from "./store-helpers/records.ts";

const KEY = "0123456789abcdef0123456789abcdef";
const ROLE = "app_sp";
const CLIENT_ID = "sp-client-id";
const CLIENT_SECRET = "sp-secret-value";
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the Postgres store on a Lakebase resource: workspace tokens as passwords", {
  skip: sharedServersMissing("postgres") ?? false,
}, () => {
  let postgres: TestServer;
  let admin: pg.Client;
  let tokenServer: Server;
  const issued: string[] = [];
  /** The token the workspace hands out now, and the role's password. */
  let current = "";
  async function rotate(): Promise<void> {
    current = `lakebase-${randomBytes(12).toString("hex")}`;
    await admin.query(`ALTER ROLE ${ROLE} PASSWORD '${current}'`);
  }
  const saved = { ...process.env };

  before(async () => {
    postgres = await startPostgres({ passwordUsers: [ROLE] });
    admin = new pg.Client({ host: "127.0.0.1", port: postgres.port, user: "mcp", database: "postgres" });
    await admin.connect();
    await admin.query(`CREATE ROLE ${ROLE} LOGIN`);
    await rotate();
    await admin.query(`GRANT CREATE ON DATABASE postgres TO ${ROLE}`);
    await admin.query(`GRANT CREATE ON SCHEMA public TO ${ROLE}`);
    tokenServer = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      req.on("end", async () => {
        const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`;
        const form = new URLSearchParams(body);
        if (req.url !== "/oidc/v1/token" || req.headers.authorization !== basic) {
          res.writeHead(401, { "content-type": "application/json" }).end('{"error":"invalid_client"}');
          return;
        }
        assert.equal(form.get("grant_type"), "client_credentials");
        assert.equal(form.get("scope"), "all-apis");
        // Postgres reads a role's password when a login starts, so the token being handed out is already the
        // password (the test rotates both at once); a token handed out before a rotation no longer logs in.
        const token = current;
        issued.push(token);
        res.writeHead(200, { "content-type": "application/json" });
        // One second: the store renews it after half of that, so the login after the rotation asks again.
        res.end(JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: 1 }));
      });
    });
    await new Promise<void>((resolve) => tokenServer.listen(0, "127.0.0.1", resolve));
    const { port } = tokenServer.address() as AddressInfo;
    // What the Lakebase resource and the app's service principal set (pg reads the PG* variables itself).
    Object.assign(process.env, {
      PGHOST: "127.0.0.1",
      PGPORT: String(postgres.port),
      PGUSER: ROLE,
      PGDATABASE: "postgres",
      DATABRICKS_HOST: `http://127.0.0.1:${port}`,
      DATABRICKS_CLIENT_ID: CLIENT_ID,
      DATABRICKS_CLIENT_SECRET: CLIENT_SECRET,
    });
    delete process.env.PGPASSWORD;
  });

  after(async () => {
    process.env = saved;
    await admin?.end().catch(() => {});
    await new Promise((resolve) => tokenServer?.close(resolve));
    await postgres?.close();
  });

  test("logs in with a workspace token, and with a new one after the old expired and its connections ended", async () => {
    const store = new PostgresTokenStore({ url: "postgres:" });
    try {
      await store.write(KEY, "tokens", tokensRecord("at-1"));
      assert.equal((await store.read(KEY, "tokens"))?.tokens.access_token, "at-1");
      assert.ok(issued.length >= 1, "the first login used a workspace token");
      const first = issued.length;

      // The workspace moves on to a new token, the old one lapses (its one second), and the idle connections end
      // (Lakebase ends them after 24 h idle; the pool after 10 s).
      await rotate();
      await delay(1_100);
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [ROLE]);
      for (let i = 0; i < 100; i++) {
        const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1", [
          ROLE,
        ]);
        if ((rows[0] as { n: number }).n === 0) break;
        await delay(50);
      }
      await delay(200); // the pool drops its broken idle clients on their error event
      let read: string | undefined;
      for (let attempt = 0; attempt < 3 && read === undefined; attempt++) {
        // A query that met a connection the pool had not yet dropped fails as "store unavailable"; the next works.
        read = await store.read(KEY, "tokens").then(
          (record) => record?.tokens.access_token,
          () => undefined,
        );
      }
      assert.equal(read, "at-1");
      assert.ok(issued.length > first, `a new token was fetched for the new login (${issued.length} issued)`);
      assert.equal(issued.at(-1), current);

      const stale = new pg.Client({ password: issued[0] });
      stale.on("error", () => {});
      await assert.rejects(stale.connect(), /password authentication failed/, "the first token no longer logs in");
    } finally {
      await store.close();
    }
  });

  test("a refused token request is a clear store error naming the variables, never the secret", async () => {
    process.env.DATABRICKS_CLIENT_SECRET = "the-wrong-secret";
    const store = new PostgresTokenStore({ url: "postgres:" });
    try {
      const error = await store.read(KEY, "tokens").then(
        () => assert.fail("the login should fail"),
        (e: unknown) => e as { code: string; message: string; hint?: string },
      );
      assert.equal(error.code, "STORE_ERROR");
      assert.match(error.message, /Lakebase password.*HTTP 401 \(invalid_client\)/);
      assert.match(error.hint ?? "", /DATABRICKS_CLIENT_ID/);
      assert.doesNotMatch(`${error.message} ${error.hint}`, /the-wrong-secret/);
    } finally {
      process.env.DATABRICKS_CLIENT_SECRET = CLIENT_SECRET;
      await store.close();
    }
  });
});
