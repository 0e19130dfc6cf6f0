// URL-mode elicitation for sign-in: `serve --identity databricks-apps` (the built bin, a child process) behind the
// test front for alice. A real SDK v1 client that declares `capabilities.elicitation.url` (protocol 2025-11-25)
// gets the spec's URLElicitationRequiredError with the sign-in URL; its user signs in in a scripted browser and the
// retry succeeds. A client that did not declare it keeps the proxy's -32050 error.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ErrorCode, UrlElicitationRequiredError } from "@modelcontextprotocol/sdk/types.js";
import { type AppsDeployment, startAppsDeployment } from "./support/apps-deployment.ts";
import type { FrontUser } from "./support/identity-front.ts";

const ALICE: FrontUser = { login: "alice", id: "7001234567890011", email: "alice@example.test" };
const BOB: FrontUser = { login: "bob", id: "7001234567890012", email: "bob@example.test" };

describe("sign-in as URL-mode elicitation for a 2025-11-25 client that declared it", () => {
  let apps: AppsDeployment;

  before(async () => {
    apps = await startAppsDeployment({ users: [ALICE, BOB], dirPrefix: "identity-elicit-" });
  });

  after(async () => {
    await apps?.close();
  });

  async function connect(user: FrontUser, declareUrlElicitation: boolean): Promise<Client> {
    return (await apps.connect(user, { declareUrlElicitation })).client;
  }

  test("the declaring client sees the sign-in URL as an elicitation, signs in, and the retry succeeds", async () => {
    const failure = await connect(ALICE, true).then(
      () => assert.fail("alice is not signed in yet, initialize must fail"),
      (error: unknown) => error,
    );
    // The SDK turns -32042 into its UrlElicitationRequiredError: what a host shows as a button.
    assert.ok(failure instanceof UrlElicitationRequiredError, String(failure));
    assert.equal(failure.code, ErrorCode.UrlElicitationRequired);
    assert.equal(failure.elicitations.length, 1);
    const [elicitation] = failure.elicitations;
    assert.equal(elicitation?.mode, "url");
    assert.ok(elicitation?.elicitationId, "an elicitation id");
    assert.ok(elicitation?.message, "a message for the user");
    const url = elicitation?.url ?? "";
    assert.ok(url.startsWith(`${apps.as.issuer}/`), `the elicitation URL is the AS's authorization URL: ${url}`);
    assert.equal(new URL(url).searchParams.get("redirect_uri"), `${apps.front.url}/oauth/callback`);

    assert.equal((await apps.login(url, ALICE)).callbackStatus, 200);
    const client = await connect(ALICE, true);
    const result = (await client.callTool({ name: "whoami", arguments: {} })) as { content: { text: string }[] };
    assert.equal((JSON.parse(result.content[0]?.text ?? "{}") as { sub?: string }).sub, "alice");
  });

  test("a client that did not declare URL elicitation keeps the -32050 error with data.signInUrl", async () => {
    const failure = (await connect(BOB, false).then(
      () => assert.fail("bob is not signed in yet, initialize must fail"),
      (error: unknown) => error,
    )) as { code?: number; data?: { signInUrl?: string; elicitations?: unknown } };
    assert.ok(!(failure instanceof UrlElicitationRequiredError));
    assert.equal(failure.code, -32050);
    assert.ok(failure.data?.signInUrl?.startsWith(`${apps.as.issuer}/`));
    assert.equal(failure.data?.elicitations, undefined);
  });
});
