// URL-mode elicitation for sign-in on the legacy HTTP+SSE face (`/sse` + `/message`): `serve --identity
// databricks-apps` (the built bin) behind the test front, a Streamable HTTP upstream (so the proxy bridges the
// legacy client to it). A real SDK v1 client on SSEClientTransport that declares `capabilities.elicitation.url`
// (protocol 2025-11-25) gets the spec's URLElicitationRequiredError carrying the sign-in URL, as on `/mcp`; its
// user signs in in a scripted browser and the retry succeeds. A client that did not declare it gets -32050 with
// the URL in message and data. The same in front of a legacy HTTP+SSE upstream, whose stream needs the token: the
// not-signed-in client is bridged for its initialize's answer, and relayed once signed in.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { ErrorCode, UrlElicitationRequiredError } from "@modelcontextprotocol/sdk/types.js";
import { type AppsDeployment, startAppsDeployment, whoami } from "./support/apps-deployment.ts";
import type { FrontUser } from "./support/identity-front.ts";

const ALICE: FrontUser = { login: "alice", id: "7001234567890031", email: "alice@example.test" };
const BOB: FrontUser = { login: "bob", id: "7001234567890032", email: "bob@example.test" };

describe("sign-in as URL-mode elicitation on the legacy /sse face", () => {
  let apps: AppsDeployment;
  const clients: Client[] = [];

  before(async () => {
    apps = await startAppsDeployment({ users: [ALICE, BOB], dirPrefix: "identity-elicit-sse-" });
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    await apps?.close();
  });

  async function connectSse(user: FrontUser, declareUrlElicitation: boolean): Promise<Client> {
    const client = new Client(
      { name: `elicit-sse-test-${user.login}`, version: "1.0.0" },
      { capabilities: declareUrlElicitation ? { elicitation: { url: {} } } : {} },
    );
    clients.push(client);
    await client.connect(
      new SSEClientTransport(new URL(`${apps.front.url}/sse`), { requestInit: { headers: apps.asUser(user) } }),
    );
    return client;
  }

  test("the declaring client gets -32042 with the sign-in URL, signs in, and the retry succeeds", async () => {
    const failure = await connectSse(ALICE, true).then(
      () => assert.fail("alice is not signed in yet, initialize must fail"),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof UrlElicitationRequiredError, String(failure));
    assert.equal(failure.code, ErrorCode.UrlElicitationRequired);
    const [elicitation] = failure.elicitations;
    assert.equal(elicitation?.mode, "url");
    assert.ok(elicitation?.elicitationId);
    const url = elicitation?.url ?? "";
    assert.ok(url.startsWith(`${apps.as.issuer}/`), `the AS's authorization URL: ${url}`);
    assert.equal(new URL(url).searchParams.get("redirect_uri"), `${apps.front.url}/oauth/callback`);
    // (The SDK's error keeps only `elicitations` of the data; the proxy's signInUrl beside it is checked in
    // test/unit/message-bridge.test.ts.)
    assert.ok(failure.message.includes(url), "the message carries the URL too");

    assert.equal((await apps.login(url, ALICE)).callbackStatus, 200);
    const client = await connectSse(ALICE, true);
    assert.equal(await whoami(client), "alice");
  });

  test("a client that did not declare it gets -32050 with the URL in message and data", async () => {
    const failure = (await connectSse(BOB, false).then(
      () => assert.fail("bob is not signed in yet, initialize must fail"),
      (error: unknown) => error,
    )) as { code?: number; message?: string; data?: { signInUrl?: string; elicitations?: unknown } };
    assert.ok(!(failure instanceof UrlElicitationRequiredError));
    assert.equal(failure.code, -32050, String(failure.message));
    const url = failure.data?.signInUrl ?? "";
    assert.ok(url.startsWith(`${apps.as.issuer}/`), url);
    assert.ok(failure.message?.includes(url));
    assert.equal(failure.data?.elicitations, undefined);
  });
});

describe("the same in front of a legacy HTTP+SSE upstream", () => {
  let apps: AppsDeployment;
  const clients: Client[] = [];

  before(async () => {
    apps = await startAppsDeployment({ users: [ALICE], dirPrefix: "identity-elicit-legacy-", transport: "sse" });
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    await apps?.close();
  });

  test("-32042 with the sign-in URL before the sign-in; whoami through the relayed stream after", async () => {
    const connect = async () => {
      const client = new Client(
        { name: "elicit-legacy-test", version: "1.0.0" },
        { capabilities: { elicitation: { url: {} } } },
      );
      clients.push(client);
      await client.connect(
        new SSEClientTransport(new URL(`${apps.front.url}/sse`), { requestInit: { headers: apps.asUser(ALICE) } }),
      );
      return client;
    };
    const failure = await connect().then(
      () => assert.fail("alice is not signed in yet, initialize must fail"),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof UrlElicitationRequiredError, String(failure));
    const url = failure.elicitations[0]?.url ?? "";
    assert.ok(url.startsWith(`${apps.as.issuer}/`), url);
    assert.equal((await apps.login(url, ALICE)).callbackStatus, 200);
    assert.equal(await whoami(await connect()), "alice");
  });
});
