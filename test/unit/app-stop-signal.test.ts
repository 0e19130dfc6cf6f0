// stopSignal keeps its listeners after the first SIGTERM: signal-exit (under the file store's proper-lockfile)
// re-raises a signal when it finds itself the only listener left, which killed `serve` in the middle of its graceful
// stop once a file lock had been taken. The signals are emitted on `process` here (no real signal is sent).
import assert from "node:assert/strict";
import { test } from "node:test";
import { stopSignal } from "../../src/app/graceful-stop.ts";

test("after the first signal its listener is still there; a second one calls onRepeat", async () => {
  const before = new Set([...process.listeners("SIGTERM"), ...process.listeners("SIGINT")]);
  const repeats: string[] = [];
  let othersSeen = -1;
  // What signal-exit does on a signal: re-raise it unless some other listener is left.
  const likeSignalExit = () => {
    othersSeen = process.listeners("SIGTERM").filter((listener) => listener !== likeSignalExit).length;
  };
  try {
    const stopped = stopSignal((signal) => repeats.push(signal));
    process.on("SIGTERM", likeSignalExit);
    process.emit("SIGTERM", "SIGTERM");
    assert.equal(await stopped, "SIGTERM");
    assert.ok(othersSeen >= 1, "the stop listener was still registered when the next listener ran");
    process.emit("SIGINT", "SIGINT");
    assert.deepEqual(repeats, ["SIGINT"], "a second signal is the caller's to handle (stop now)");
  } finally {
    process.off("SIGTERM", likeSignalExit);
    for (const name of ["SIGTERM", "SIGINT"] as const) {
      for (const listener of process.listeners(name)) if (!before.has(listener)) process.off(name, listener);
    }
  }
});
