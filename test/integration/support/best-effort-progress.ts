import assert from "node:assert/strict";

/**
 * Checks progress to a 2026-07-28 client, which cannot answer the proxy's pings: the progress barrier's delay
 * fallback is best effort, and a client starved of CPU for longer than the delay reads the progress and the
 * response in one go and drops the progress it had not handled yet (on a loaded CI machine, once, all of it). So:
 * no gaps and no disorder in any call, and some progress in at least one of up to three calls, but not the tail.
 * `call` makes one call and returns the progress values it saw.
 */
export async function assertProgressInOrder(call: () => Promise<number[]>): Promise<void> {
  const calls: number[][] = [];
  while (calls.length < 3 && !calls.some((seen) => seen.length > 0)) {
    const seen = await call();
    assert.deepEqual(
      seen,
      Array.from({ length: seen.length }, (_, i) => i + 1),
    );
    calls.push(seen);
  }
  assert.ok(
    calls.some((seen) => seen.length > 0),
    `no progress arrived in ${calls.length} calls`,
  );
}
