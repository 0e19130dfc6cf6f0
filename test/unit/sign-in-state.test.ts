// The sign-in state carries a tag of its upstream's store key, so a shared callback route can find the upstream
// when the callback reaches a replica that did not start the sign-in.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isSignInStateOf, newSignInState } from "../../src/auth/sign-in-state.ts";

const KEY_A = "https://a.example.test/mcp";
const KEY_B = "https://b.example.test/mcp";

test("a state is recognised as its own upstream's and not another's", () => {
  const state = newSignInState(KEY_A);
  assert.equal(isSignInStateOf(state, KEY_A), true);
  assert.equal(isSignInStateOf(state, KEY_B), false);
});

test("the secret part is 32 random bytes, different on every call", () => {
  const first = newSignInState(KEY_A);
  const second = newSignInState(KEY_A);
  assert.notEqual(first, second);
  const [tagOfFirst, secret] = first.split(".");
  assert.equal(tagOfFirst, second.split(".")[0], "the tag depends on the upstream only");
  assert.equal(Buffer.from(secret ?? "", "base64url").length, 32);
  assert.match(first, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, "URL-safe, so it survives the redirect unescaped");
});

test("states of other shapes are not claimed", () => {
  const tag = newSignInState(KEY_A).split(".")[0] ?? "";
  for (const state of ["", "plain-random-state", `${tag}.`, `${tag}`, `x${tag}.abc`, `.${tag}`]) {
    assert.equal(isSignInStateOf(state, KEY_A), false, state);
  }
});
