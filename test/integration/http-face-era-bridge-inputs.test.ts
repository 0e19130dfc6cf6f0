// input_required through the revision bridge on the HTTP face: a strict 2026-07-28-only upstream (SDK v2,
// `legacy: "reject"`) answers a tools/call with input_required asking for the client's roots, or for a URL-mode
// elicitation; the proxy asks the 2025 client (SDK v1, on /mcp and on /sse) with a real roots/list or
// elicitation/create (2025-11-25 URL mode) request, then retries upstream with the answer, the byte-exact
// requestState and a new JSON-RPC id (the retry is a new request). A client that did not declare the capability
// gets a clear error naming it, and nothing hangs.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ElicitRequestSchema, ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { ServeHandle } from "../../src/app/serve.ts";
import { type ModernInputsServer, startModernInputsServer } from "../fixtures/modern-inputs-server.ts";
import { legacyTransport, textOf } from "./support/era-clients.ts";
import { staticFace } from "./support/raw-upstream.ts";

const TOKEN = `roots-token-${process.pid}`;
const ROOTS = [{ uri: "file:///work/project", name: "project" }];

for (const path of ["/mcp", "/sse"] as const) {
  describe(`HTTP face ${path}, 2025 client (SDK v1) → 2026-07-28-only upstream asking for roots or a URL`, () => {
    let upstream: ModernInputsServer;
    let face: ServeHandle;
    const clients: Client[] = [];
    before(async () => {
      upstream = await startModernInputsServer(TOKEN);
      ({ face } = await staticFace(upstream.url, { Authorization: `Bearer ${TOKEN}` }, { signInAtStart: false }));
    });
    after(async () => {
      for (const client of clients) await client.close();
      await face?.close();
      await upstream?.close();
    });

    test("the client's roots/list handler answers, and the retry carries the answer, the state and a new id", async () => {
      const client = new Client({ name: "roots-client", version: "1.0.0" }, { capabilities: { roots: {} } });
      let asked = 0;
      client.setRequestHandler(ListRootsRequestSchema, () => {
        asked++;
        return { roots: ROOTS };
      });
      await client.connect(legacyTransport(face.url, path));
      clients.push(client);
      const before = upstream.callsOf("ask_roots").length;
      const answer = JSON.parse(textOf(await client.callTool({ name: "ask_roots", arguments: {} })) ?? "null") as {
        state: unknown;
        roots: unknown;
      };
      assert.equal(asked, 1, "the client was asked once");
      assert.deepEqual(answer.roots, ROOTS);
      assert.equal(typeof answer.state, "string", "the requestState came back to the server");
      const calls = upstream.callsOf("ask_roots").slice(before);
      assert.equal(calls.length, 2, "the first call, then one retry");
      const [first, retry] = calls.map((call) => call.body as { id?: unknown; params?: Record<string, unknown> });
      assert.notEqual(retry?.id, first?.id, "the retry is a new request with an id of its own");
      assert.equal(first?.params?.inputResponses, undefined);
      assert.ok(retry?.params?.inputResponses, "the retry carries the answers");
      assert.equal(typeof retry?.params?.requestState, "string");
    });

    test("a client that did not declare roots gets a clear error naming the capability, and nothing hangs", async () => {
      const client = new Client({ name: "no-roots-client", version: "1.0.0" }, { capabilities: {} });
      await client.connect(legacyTransport(face.url, path));
      clients.push(client);
      const outcome = await client.callTool({ name: "ask_roots", arguments: {} }).then(
        (result) => JSON.stringify(result),
        (error: unknown) => String(error),
      );
      assert.match(outcome, /roots/i, outcome);
      assert.doesNotMatch(outcome, /file:\/\/\/work\/project/);
      // The session still works afterwards.
      assert.ok((await client.listTools()).tools.length > 0);
    });

    test("a URL-mode elicitation reaches a client that declared URL mode, with the server's URL; its answer returns", async () => {
      const client = new Client(
        { name: "url-client", version: "1.0.0" },
        { capabilities: { elicitation: { url: {} } } },
      );
      const asked: Record<string, unknown>[] = [];
      client.setRequestHandler(ElicitRequestSchema, (request) => {
        asked.push(request.params as Record<string, unknown>);
        return { action: "accept" };
      });
      await client.connect(legacyTransport(face.url, path));
      clients.push(client);
      const answer = JSON.parse(textOf(await client.callTool({ name: "ask_url", arguments: {} })) ?? "null");
      assert.deepEqual(answer, { action: "accept" });
      assert.equal(asked.length, 1);
      assert.equal(asked[0]?.mode, "url");
      assert.match(String(asked[0]?.url), /\/connect-account$/);
      assert.equal(asked[0]?.message, "Connect your account");
      assert.equal(typeof asked[0]?.elicitationId, "string", "2025-11-25 URL mode carries an elicitation id");
    });

    test("a form-only client is not sent a URL-mode elicitation: a clear error names the missing capability", async () => {
      const client = new Client({ name: "form-client", version: "1.0.0" }, { capabilities: { elicitation: {} } });
      let asked = 0;
      client.setRequestHandler(ElicitRequestSchema, () => {
        asked++;
        return { action: "decline" };
      });
      await client.connect(legacyTransport(face.url, path));
      clients.push(client);
      const outcome = await client.callTool({ name: "ask_url", arguments: {} }).then(
        (result) => JSON.stringify(result),
        (error: unknown) => String(error),
      );
      // The upstream sees the client's declared capabilities in _meta and refuses to ask (-32021); had it asked,
      // the proxy would refuse to pass it on, naming URL-mode elicitation. Either way the error says what is missing.
      assert.match(outcome, /-32021|URL-mode elicitation/, outcome);
      assert.match(outcome, /capabilit|URL-mode/i, outcome);
      assert.equal(asked, 0, "the client was never asked");
    });
  });
}
