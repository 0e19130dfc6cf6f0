/**
 * The official MCP conformance suite's client auth scenarios, run against a small client built on the project's
 * OAuth core (conformance-client.ts): @modelcontextprotocol/conformance 0.1.16 `--suite auth` (14 scenarios,
 * 2025-11-25) and 0.2.0-alpha.12's 25 auth scenarios of `--requirements 2026-07-28` (at the 2026-07-28 wire), plus
 * the two 2025-03-26 backcompat scenarios, reported but not required. The first suite's client keeps tokens in
 * memory, the second's in the FileTokenStore (the product's default). Needs the npm registry once per pinned
 * version (.ci/run pre-warms npx's cache); everything else is loopback. Results: test-results/conformance/.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatResult, formatSummary, runSuites, SUITES } from "./run-conformance.ts";

test("MCP conformance suite: client auth scenarios", { timeout: 25 * 60_000 }, async (t) => {
  const summaries = await runSuites(SUITES, { concurrency: 3 });
  for (const summary of summaries) {
    process.stderr.write(`${formatSummary(summary)}\n`);
    t.diagnostic(formatSummary(summary));
  }
  for (const summary of summaries) {
    for (const result of summary.results) {
      const name = `${summary.suite.version} ${result.scenario}`;
      // A scenario outside the requirement sets is reported; its failure is a todo, not a test failure.
      const options = result.required || result.passed ? {} : { todo: "not in a requirement set" };
      await t.test(name, options, () => {
        assert.ok(result.passed, formatResult(result));
      });
    }
  }
  for (const summary of summaries) {
    assert.equal(summary.requiredPassed, summary.requiredTotal, formatSummary(summary));
  }
});
