// The requestState of Bridge B's input_required results: HMAC-sealed, bound to the connection and the request,
// short-lived; every way a presented state can be wrong is refused with its own reason.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { digestParams, InputRequiredStateSealer } from "../../src/proxy/era/input-required-state.ts";

const NOW = 1_000_000;
const state = { bridge: "conn-1", call: "call-1", method: "tools/call", digest: "d1", expiresAt: NOW + 60_000 };
const expected = { bridge: "conn-1", method: "tools/call", digest: "d1", now: NOW };

/** The token with one character of its payload part changed (still valid base64url). */
function tamper(token: string): string {
  const [payload, mac] = token.split(".") as [string, string];
  const json = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
  json.c = "call-2";
  return `${Buffer.from(JSON.stringify(json)).toString("base64url")}.${mac}`;
}

describe("InputRequiredStateSealer", () => {
  test("a sealed state opens with its fields and a fresh nonce each time", () => {
    const sealer = new InputRequiredStateSealer(randomBytes(32));
    const first = sealer.seal(state);
    const second = sealer.seal(state);
    assert.notEqual(first.nonce, second.nonce);
    const opened = sealer.open(first.token, expected);
    assert.ok(opened.ok);
    assert.equal(opened.state.call, "call-1");
    assert.equal(opened.state.nonce, first.nonce);
  });

  test("an altered payload fails the integrity check", () => {
    const sealer = new InputRequiredStateSealer(randomBytes(32));
    const { token } = sealer.seal(state);
    assert.deepEqual(sealer.open(tamper(token), expected), { ok: false, reason: "tampered" });
  });

  test("a state sealed with another key (another process) is refused as tampered", () => {
    const { token } = new InputRequiredStateSealer(randomBytes(32)).seal(state);
    assert.deepEqual(new InputRequiredStateSealer(randomBytes(32)).open(token, expected), {
      ok: false,
      reason: "tampered",
    });
  });

  test("what is not a state at all is malformed", () => {
    const sealer = new InputRequiredStateSealer(randomBytes(32));
    for (const token of [undefined, 42, "", "abc", "a.b.c", "x".repeat(5000)]) {
      assert.deepEqual(sealer.open(token, expected), { ok: false, reason: "malformed" }, String(token));
    }
  });

  test("a state issued to another connection is refused", () => {
    const sealer = new InputRequiredStateSealer(randomBytes(32));
    const { token } = sealer.seal(state);
    assert.deepEqual(sealer.open(token, { ...expected, bridge: "conn-2" }), { ok: false, reason: "other-connection" });
  });

  test("an expired state is refused, one just before expiry is not", () => {
    const sealer = new InputRequiredStateSealer(randomBytes(32));
    const { token } = sealer.seal(state);
    assert.ok(sealer.open(token, { ...expected, now: state.expiresAt - 1 }).ok);
    assert.deepEqual(sealer.open(token, { ...expected, now: state.expiresAt }), { ok: false, reason: "expired" });
  });

  test("a state presented with another method or other parameters is refused", () => {
    const sealer = new InputRequiredStateSealer(randomBytes(32));
    const { token } = sealer.seal(state);
    assert.deepEqual(sealer.open(token, { ...expected, method: "prompts/get" }), {
      ok: false,
      reason: "other-request",
    });
    assert.deepEqual(sealer.open(token, { ...expected, digest: "d2" }), { ok: false, reason: "other-request" });
  });
});

describe("digestParams", () => {
  test("ignores _meta, inputResponses, requestState and key order", () => {
    const a = digestParams({ name: "t", arguments: { x: 1, y: [1, { b: 2, a: 1 }] } });
    const b = digestParams({
      arguments: { y: [1, { a: 1, b: 2 }], x: 1 },
      name: "t",
      _meta: { progressToken: 3 },
      inputResponses: { k: {} },
      requestState: "s",
    });
    assert.equal(a, b);
  });
  test("differs when the arguments differ", () => {
    assert.notEqual(digestParams({ name: "t", arguments: { x: 1 } }), digestParams({ name: "t", arguments: { x: 2 } }));
  });
});
