/**
 * The official MCP conformance suite's 2026-07-28 server scenarios (@modelcontextprotocol/conformance
 * 0.2.0-alpha.12, `--suite all --spec-version 2026-07-28`) directly against a 2026-07-28 reference server and
 * through the HTTP face of the built CLI in front of a reference server that speaks only the 2025 session wire
 * (the face answers the suite's 2026-07-28 client from the 2025 upstream: bridge B). Requires that every scenario
 * passing directly also passes through the face; a scenario the reference fails directly is reported as todo.
 * Needs `npm run build` (dist/main.js) and the npm registry once for the pinned suite; everything else is loopback.
 * Results: test-results/conformance/server-0.2.0-alpha.12/.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  formatModernServerScenarios,
  formatModernServerSummary,
  runModernServerConformance,
} from "./run-server-conformance-2026.ts";

test("MCP conformance suite: 2026-07-28 server scenarios through the HTTP face to a 2025-only server", {
  timeout: 10 * 60_000,
}, async (t) => {
  const summary = await runModernServerConformance();
  const line = formatModernServerSummary(summary);
  process.stderr.write(`${line}\n`);
  t.diagnostic(line);
  const faceResults = new Map(summary.face.results.map((r) => [r.scenario, r]));
  const details = formatModernServerScenarios(summary);
  assert.ok(summary.scenarios.length > 0, "the suite listed no 2026-07-28 server scenario");
  for (const [index, direct] of summary.direct.results.entries()) {
    // A scenario the reference server itself fails says nothing about the face: reported, not required.
    const options = direct.passed ? {} : { todo: `fails directly too: ${direct.problems.join("; ")}` };
    await t.test(`${direct.scenario} through the face to a 2025-only server`, options, () => {
      assert.ok(faceResults.get(direct.scenario)?.passed, details[index]);
    });
  }
  assert.deepEqual(
    summary.regressions,
    [],
    `passed directly, failed through the face: ${summary.regressions.join(", ")}`,
  );
});
