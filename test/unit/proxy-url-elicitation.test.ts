import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  declaresUrlElicitation,
  UrlElicitationSessions,
  urlElicitationErrorOf,
} from "../../src/proxy/url-elicitation.ts";

const initialize = (protocolVersion: string, capabilities: unknown) =>
  Buffer.from(
    JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion, capabilities } }),
  );

describe("URL-mode elicitation for sign-in", () => {
  test("only a 2025-11-25+ initialize with capabilities.elicitation.url declares it", () => {
    assert.equal(declaresUrlElicitation(initialize("2025-11-25", { elicitation: { url: {} } })), true);
    assert.equal(declaresUrlElicitation(initialize("2026-07-28", { elicitation: { url: {}, form: {} } })), true);
    assert.equal(declaresUrlElicitation(initialize("2025-06-18", { elicitation: { url: {} } })), false);
    assert.equal(declaresUrlElicitation(initialize("2025-11-25", { elicitation: {} })), false);
    assert.equal(declaresUrlElicitation(initialize("2025-11-25", { elicitation: { form: {} } })), false);
    assert.equal(declaresUrlElicitation(initialize("2025-11-25", {})), false);
    const call = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { protocolVersion: "2025-11-25" } };
    assert.equal(declaresUrlElicitation(Buffer.from(JSON.stringify(call))), false);
    assert.equal(declaresUrlElicitation(Buffer.from("not json")), false);
    assert.equal(declaresUrlElicitation(undefined), false);
  });

  test("the error is -32042 with one url elicitation, keeping the proxy's data; the id is stable per URL", () => {
    const base = {
      message: "Sign-in needed.",
      data: { signInUrl: "https://as.test/authorize?state=s1", proxyError: "X" },
    };
    const one = urlElicitationErrorOf(base, "https://as.test/authorize?state=s1", "https://mcp.test/mcp");
    assert.equal(one.code, -32042);
    assert.equal(one.data.proxyError, "X");
    const [elicitation] = one.data.elicitations as {
      mode: string;
      url: string;
      elicitationId: string;
      message: string;
    }[];
    assert.equal(elicitation?.mode, "url");
    assert.equal(elicitation?.url, "https://as.test/authorize?state=s1");
    assert.match(elicitation?.message ?? "", /mcp\.test/);
    const again = urlElicitationErrorOf(base, "https://as.test/authorize?state=s1", undefined);
    const next = urlElicitationErrorOf(base, "https://as.test/authorize?state=s2", undefined);
    const idOf = (error: typeof one) => (error.data.elicitations as { elicitationId: string }[])[0]?.elicitationId;
    assert.equal(idOf(again), idOf(one));
    assert.notEqual(idOf(next), idOf(one));
    assert.ok(!idOf(one)?.includes("s1"), "the id does not spell the state");
  });

  test("sessions are remembered, bounded, oldest forgotten first", () => {
    const sessions = new UrlElicitationSessions();
    sessions.add("a");
    assert.equal(sessions.has("a"), true);
    assert.equal(sessions.has("b"), false);
    assert.equal(sessions.has(undefined), false);
    for (let i = 0; i < 10_000; i++) sessions.add(`s${i}`);
    assert.equal(sessions.has("a"), false);
    assert.equal(sessions.has("s9999"), true);
  });
});
