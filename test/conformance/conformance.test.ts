/**
 * The official MCP conformance suite's client auth scenarios, run against two clients:
 * - a small client built on the project's OAuth core (conformance-client.ts);
 * - the proxy's stdio face: an SDK client driving the real `dist/main.js stdio <url>` (conformance-stdio-client.ts;
 *   `npm test` builds dist/ first — run `npm run build` before running this file alone).
 * Suites: @modelcontextprotocol/conformance 0.1.16 `--suite auth` (14 scenarios, 2025-11-25) and 0.2.0-alpha.12's
 * 25 auth scenarios of `--requirements 2026-07-28` (at the 2026-07-28 wire), plus the two 2025-03-26 backcompat
 * scenarios, reported but not required. The core client of the first suite keeps tokens in memory, the second's in
 * the FileTokenStore; the proxy always uses the FileTokenStore. All (client, scenario) runs share one pool of 3.
 * Needs the npm registry once per pinned version (.ci/run pre-warms npx's cache); everything else is loopback.
 * Results: test-results/conformance/ (core) and test-results/conformance/stdio/ (stdio face).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type ClientKind, formatResult, formatSummary, runSuites, SUITES } from "./run-conformance.ts";

/**
 * Scenarios that fail now and then through the stdio face, for reasons in the product (not in this harness); a
 * failure of one of these is reported as a todo with the reason, and still counted in the printed total.
 */
const KNOWN_STDIO_ISSUES: Record<string, string> = {
  // Empty: the start-up sign-in race (scope-from-www-authenticate) and the callback-port reuse on step-up
  // (scope-step-up, scope-retry-limit) were fixed in the product. Add an entry only with its reason.
};

test("MCP conformance suite: client auth scenarios", { timeout: 25 * 60_000 }, async (t) => {
  const clients: ClientKind[] = ["core", "stdio"];
  const started = Date.now();
  const summaries = await runSuites(SUITES, { concurrency: 3, clients });
  for (const summary of summaries) {
    process.stderr.write(`${formatSummary(summary)}\n`);
    t.diagnostic(formatSummary(summary));
  }
  t.diagnostic(`(${((Date.now() - started) / 1000).toFixed(0)} s for ${clients.join(" + ")})`);
  for (const summary of summaries) {
    const face = summary.client === "stdio" ? "stdio face " : "";
    for (const result of summary.results) {
      const name = `${face}${summary.suite.version} ${result.scenario}`;
      const known = summary.client === "stdio" ? KNOWN_STDIO_ISSUES[result.scenario] : undefined;
      // A scenario outside the requirement sets is reported; its failure is a todo, not a test failure.
      let options = {};
      if (!result.passed && !result.required) options = { todo: "not in a requirement set" };
      else if (!result.passed && known) options = { todo: `known stdio-face issue: ${known}` };
      await t.test(name, options, () => {
        assert.ok(result.passed, formatResult(result));
      });
    }
  }
  for (const summary of summaries) {
    const unexplained = summary.results.filter(
      (r) => r.required && !r.passed && !(summary.client === "stdio" && KNOWN_STDIO_ISSUES[r.scenario]),
    );
    assert.deepEqual(
      unexplained.map((r) => r.scenario),
      [],
      formatSummary(summary),
    );
  }
});
