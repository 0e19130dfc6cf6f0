import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";

const TUNING = new URL("../../src/lib/v8-tuning.ts", import.meta.url).href;

// V8 prints "Error: unrecognized flag" (and carries on) for a flag it does not know: a renamed flag must fail here.
test("the proxy's V8 settings are flags this Node knows, applied without a word on stderr", () => {
  const child = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `const { tuneV8ForProxy } = await import(${JSON.stringify(TUNING)}); tuneV8ForProxy(); console.log("tuned");`,
    ],
    { encoding: "utf8" },
  );
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stderr, "");
  assert.equal(child.stdout.trim(), "tuned");
});
