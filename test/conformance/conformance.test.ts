/**
 * The official MCP conformance suite's client auth scenarios, run against these clients:
 * - a small client built on the project's OAuth core (conformance-client.ts);
 * - the proxy's stdio face driven by an SDK v2 client (conformance-stdio-client.ts) and by an SDK v1 client, the
 *   2025-era host (conformance-v1-stdio-client.ts);
 * - the proxy's HTTP face `/mcp` driven by an SDK v1 client (conformance-v1-http-client.ts).
 * The proxy kinds run the real dist/main.js (`npm test` builds it first — run `npm run build` before running this
 * file alone).
 * Suites: @modelcontextprotocol/conformance 0.1.16 `--suite auth` (14 scenarios, 2025-11-25) and 0.2.0-alpha.12's
 * 25 auth scenarios of `--requirements 2026-07-28` (at the 2026-07-28 wire), plus the two 2025-03-26 backcompat
 * scenarios, reported but not required. The core client of the first suite keeps tokens in memory, the second's in
 * the FileTokenStore; the proxy always uses the FileTokenStore. All (client, scenario) runs share one pool of 3.
 * Needs the npm registry once per pinned version (.ci/run pre-warms npx's cache); everything else is loopback.
 * Results: test-results/conformance/ (core) and test-results/conformance/<kind>/ (the proxy kinds).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type ClientKind,
  formatResult,
  formatSummary,
  runSuites,
  type ScenarioResult,
  SUITES,
  type SuiteResult,
} from "./run-conformance.ts";

/**
 * Scenarios that fail now and then through the stdio face, for reasons in the product (not in this harness); a
 * failure of one of these is reported as a todo with the reason, and still counted in the printed total.
 */
const KNOWN_STDIO_ISSUES: Record<string, string> = {
  // Empty: the start-up sign-in race (scope-from-www-authenticate) and the callback-port reuse on step-up
  // (scope-step-up, scope-retry-limit) were fixed in the product. Add an entry only with its reason.
};

/**
 * The one place that excuses required failures of the SDK v1 client through the HTTP face at the 2026-07-28 wire
 * (a revision-bridging gap of that face). Empty: the HTTP face bridges a 2025 client to a 2026-only server (its
 * `initialize` answered from server/discover), and all 25 scenarios pass. A failure listed here is a todo; any
 * other failure fails the test; one that passes is reported, to be taken off. Add an entry only with its reason.
 */
const KNOWN_BRIDGE_GAPS: { client: ClientKind; suite: string; scenarios: string[] } = {
  client: "http-v1",
  suite: "0.2.0-alpha.12",
  scenarios: [],
};

/** Why a required failure of this run does not fail the test, or undefined when it does. */
function excuse(summary: SuiteResult, result: ScenarioResult): string | undefined {
  if (summary.client === "stdio" && KNOWN_STDIO_ISSUES[result.scenario]) {
    return `known stdio-face issue: ${KNOWN_STDIO_ISSUES[result.scenario]}`;
  }
  if (isBridgeGap(summary, result.scenario)) return "KNOWN_BRIDGE_GAPS: a revision-bridging gap of the HTTP face";
  return undefined;
}

function isBridgeGap(summary: SuiteResult, scenario: string): boolean {
  const gaps = KNOWN_BRIDGE_GAPS;
  return summary.client === gaps.client && summary.suite.version === gaps.suite && gaps.scenarios.includes(scenario);
}

/** "stdio-v1 0.2.0-alpha.12 2026-07-28 auth failing: auth/x (FAILURE …; client said …), …" — or nothing. */
function failureLine(summary: SuiteResult): string | undefined {
  const failed = summary.results.filter((r) => r.required && !r.passed);
  if (failed.length === 0) return undefined;
  const each = failed.map(
    (r) => `${r.scenario}${isBridgeGap(summary, r.scenario) ? " [known gap]" : ""} (${r.problems.join("; ")})`,
  );
  return `${summary.client} ${summary.suite.label} failing ${failed.length}: ${each.join(", ")}`;
}

test("MCP conformance suite: client auth scenarios", { timeout: 25 * 60_000 }, async (t) => {
  const clients: ClientKind[] = ["core", "stdio", "stdio-v1", "http-v1"];
  const started = Date.now();
  const summaries = await runSuites(SUITES, { concurrency: 3, clients });
  const lines = summaries.flatMap((summary) => [formatSummary(summary), failureLine(summary) ?? []].flat());
  const gaps = summaries.filter(
    (s) => s.client === KNOWN_BRIDGE_GAPS.client && s.suite.version === KNOWN_BRIDGE_GAPS.suite,
  );
  for (const summary of gaps) {
    const passing = KNOWN_BRIDGE_GAPS.scenarios.filter((s) => summary.results.find((r) => r.scenario === s)?.passed);
    lines.push(
      `KNOWN_BRIDGE_GAPS (${KNOWN_BRIDGE_GAPS.client} ${summary.suite.label}, not failing the test): ${KNOWN_BRIDGE_GAPS.scenarios.length} scenarios${passing.length ? `; passing now, take off the list: ${passing.join(", ")}` : ""}`,
    );
  }
  for (const line of lines) {
    process.stderr.write(`${line}\n`);
    t.diagnostic(line);
  }
  t.diagnostic(`(${((Date.now() - started) / 1000).toFixed(0)} s for ${clients.join(" + ")})`);
  for (const summary of summaries) {
    const prefix = summary.client === "core" ? "" : `${summary.client} `;
    for (const result of summary.results) {
      const reason = result.passed ? undefined : result.required ? excuse(summary, result) : "not in a requirement set";
      // A scenario outside the requirement sets or excused above is reported; its failure is a todo.
      await t.test(`${prefix}${summary.suite.version} ${result.scenario}`, reason ? { todo: reason } : {}, () => {
        assert.ok(result.passed, formatResult(result));
      });
    }
  }
  for (const summary of summaries) {
    const unexplained = summary.results.filter((r) => r.required && !r.passed && !excuse(summary, r));
    assert.deepEqual(
      unexplained.map((r) => r.scenario),
      [],
      [formatSummary(summary), failureLine(summary)].join("\n"),
    );
  }
});
