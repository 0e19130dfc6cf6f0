import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { test } from "node:test";
import { linkedSignal } from "../../src/lib/linked-signal.ts";

test("aborts with the reason of whichever source aborts first, and unhooks from both", () => {
  const long = new AbortController();
  const request = new AbortController();
  const { signal } = linkedSignal(long.signal, request.signal);
  assert.equal(getEventListeners(long.signal, "abort").length, 1);
  request.abort(new Error("client cancelled"));
  assert.ok(signal.aborted);
  assert.match(String(signal.reason), /client cancelled/);
  assert.equal(getEventListeners(long.signal, "abort").length, 0, "nothing left on the long-lived signal");
  long.abort(new Error("closing"));
  assert.match(String(signal.reason), /client cancelled/, "the first reason stays");
});

test("release leaves nothing on a long-lived source, however many requests came and went", () => {
  const long = new AbortController();
  for (let i = 0; i < 1000; i++) {
    const { release } = linkedSignal(long.signal, new AbortController().signal);
    release();
  }
  assert.equal(getEventListeners(long.signal, "abort").length, 0);
  const { signal, release } = linkedSignal(long.signal, new AbortController().signal);
  long.abort(new Error("transport closed"));
  assert.match(String(signal.reason), /transport closed/);
  release();
});

test("a source aborted already gives an aborted signal at once", () => {
  const done = new AbortController();
  done.abort(new Error("too late"));
  const { signal } = linkedSignal(new AbortController().signal, done.signal);
  assert.ok(signal.aborted);
  assert.match(String(signal.reason), /too late/);
});
