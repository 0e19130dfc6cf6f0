/**
 * Runs the official MCP conformance suite's 2026-07-28 server scenarios (@modelcontextprotocol/conformance
 * 0.2.0-alpha.12 `conformance server --suite all --spec-version 2026-07-28`) three times, at once: directly
 * against the reference server on the 2026-07-28 wire (reference-server.ts `wire: "2026"`, SDK v2
 * `createMcpHandler`), and through the proxy's HTTP face (the built CLI) in front of a reference server on the
 * 2025 session wire only, once on the SDK v2 (reference-server.ts) and once on the SDK v1
 * (reference-server-v1.ts), so the face answers the suite's 2026-07-28 client from a 2025 upstream (issue 8 §3,
 * bridge B). A scenario passes when its checks.json has no FAILURE and no WARNING. Results:
 * test-results/conformance/server-<version>/{direct,face,face-v1}/.
 *
 * Usage (after `npm run build`): node --import tsx test/conformance/run-server-conformance-2026.ts [--out DIR]
 * Exits 0 when every scenario that passes directly also passes through both faces, except the limits of the
 * 2025 wire (LIMITS_OF_2025_UPSTREAMS), which fail on exactly the checks named there.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startReferenceServer } from "./reference-server.ts";
import { startReferenceServerV1 } from "./reference-server-v1.ts";
import { locateSuite } from "./run-conformance.ts";
import {
  type Face,
  listServerScenarios,
  rerunTimeouts,
  runServerSuite,
  type ServerRun,
  type ServerScenarioResult,
  startFace,
} from "./run-server-conformance.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The pinned suite and the revision whose scenarios it runs (cumulative: the 2025 ones that still apply, too). */
export const MODERN_SERVER_SUITE_VERSION = "0.2.0-alpha.12";
const SPEC_VERSION = ["--spec-version", "2026-07-28"];

/** A check a scenario fails through the face for a reason the 2025 wire imposes, not the proxy. */
export interface BridgeLimit {
  /** The ids of the checks that fail (every other check of the scenario must pass). */
  checks: string[];
  why: string;
}

/**
 * What no bridge can give a 2026-07-28 client from a 2025-only upstream (whichever SDK serves it): the scenario
 * checks that fail for it through the face, and why. Required to fail exactly so (a scenario that starts passing,
 * or fails on another check, fails the test), so the list cannot go stale.
 */
export const LIMITS_OF_2025_UPSTREAMS: Readonly<Record<string, BridgeLimit>> = {
  "input-required-result-basic-elicitation": {
    checks: ["sep-2322-elicitation-incomplete"],
    why: "the scenario requires the inputRequests key the server chose (user_name); a 2025 server's elicitation/create carries no key, so the proxy names it",
  },
  "input-required-result-ignore-extra-params": {
    checks: ["sep-2322-ignore-unexpected-params"],
    why: "the first call already carries inputResponses under the keys a 2026-07-28 server would have chosen, without a requestState; a 2025 server asks before it can take answers, so the proxy returns input_required",
  },
};

/** The same for the SDK v2 2025 reference only: its legacy shim refuses an undeclared capability itself. */
export const LIMITS_OF_THE_SDK_V2_2025_REFERENCE: Readonly<Record<string, BridgeLimit>> = {
  ...LIMITS_OF_2025_UPSTREAMS,
  "server-stateless": {
    checks: ["sep-2575-server-rejects-undeclared-capability", "sep-2575-missing-capability-http-400"],
    why: "the SDK v2 on the 2025 wire refuses a sampling request the client did not declare inside the server (an isError tool result), so no request reaches the proxy to answer with -32021",
  },
};

/** Problems that only say a probe's short wait ran out (the suite's words for it). */
const TIMING = (problem: string) =>
  /timed out|operation was aborted|failed to (receive|open|return|yield)|frames are missing|dropped or failed/i.test(
    problem,
  );

/** Whether `problem` (a "STATUS check-id: message" line) is one of the checks `limits` names for `scenario`. */
function limitedBy(limits: Readonly<Record<string, BridgeLimit>>, scenario: string, problem: string): boolean {
  const id = /^\S+ (\S+):/.exec(problem)?.[1];
  return id !== undefined && (limits[scenario]?.checks.includes(id) ?? false);
}

/** One face in front of one 2025-only reference, compared with the 2026-07-28 reference directly. */
export interface BridgedVariant {
  /** "SDK v2" or "SDK v1": which SDK serves the 2025-only upstream. */
  upstream: string;
  run: ServerRun;
  limits: Readonly<Record<string, BridgeLimit>>;
  /** Passed directly, failed through the face, and not (exactly) one of `limits`. */
  regressions: string[];
  /** Passed directly, failed through the face on exactly the checks `limits` names. */
  limited: string[];
  faceLog: string;
}

export interface ModernServerConformanceSummary {
  version: string;
  scenarios: string[];
  /** The suite against the 2026-07-28 reference (SDK v2) directly. */
  direct: ServerRun;
  /** The suite through the face in front of each 2025-only reference. */
  variants: BridgedVariant[];
  durationMs: number;
}

/** Compares one face run with the direct run. */
function compare(direct: ServerRun, face: ServerRun, limits: Readonly<Record<string, BridgeLimit>>) {
  const faceResult = new Map(face.results.map((r) => [r.scenario, r]));
  const regressions: string[] = [];
  const limited: string[] = [];
  for (const result of direct.results) {
    const through = faceResult.get(result.scenario);
    if (!result.passed || through?.passed) continue;
    const limit = limits[result.scenario];
    const failed = [...new Set(through?.failedChecks ?? [])].sort();
    if (limit && failed.join() === [...limit.checks].sort().join()) limited.push(result.scenario);
    else regressions.push(result.scenario);
  }
  return { regressions, limited };
}

export async function runModernServerConformance(
  options: { outDir?: string } = {},
): Promise<ModernServerConformanceSummary> {
  const started = Date.now();
  const outDir = options.outDir ?? join(REPO, "test-results", "conformance");
  const final = join(outDir, `server-${MODERN_SERVER_SUITE_VERSION}`);
  // A private directory per run, so two runs at once never clobber each other; it replaces `final` when complete.
  const runDir = join(outDir, `.server-2026-run-${process.pid}-${started}`);
  const authDir = mkdtempSync(join(tmpdir(), "mcp-u2m-server-conformance-2026-"));
  const modern = await startReferenceServer({ wire: "2026" });
  const legacy = await startReferenceServer();
  const legacyV1 = await startReferenceServerV1();
  const faces: Face[] = [];
  try {
    const [tool, faceV2, faceV1] = await Promise.all([
      locateSuite(MODERN_SERVER_SUITE_VERSION),
      startFace(legacy.url, join(authDir, "a")),
      startFace(legacyV1.url, join(authDir, "b")),
    ]);
    faces.push(faceV2, faceV1);
    const scenarios = await listServerScenarios(tool, SPEC_VERSION);
    const [direct, throughV2] = await Promise.all([
      runServerSuite(tool, "direct", modern.url, scenarios, join(runDir, "direct"), SPEC_VERSION),
      runServerSuite(tool, "face", faceV2.url, scenarios, join(runDir, "face"), SPEC_VERSION),
    ]);
    // After the others: the host is shared, and some probes wait only 0.5 s.
    const throughV1 = await runServerSuite(tool, "face", faceV1.url, scenarios, join(runDir, "face-v1"), SPEC_VERSION);
    // The suite gives some probes 0.5-1.5 s; a face opening a 2025 session for a new caller on a loaded host can
    // exceed that. Such a scenario is run once more, alone; its first problems stay on the result (timedOutFirst).
    const v2Limits = LIMITS_OF_THE_SDK_V2_2025_REFERENCE;
    const v1Limits = LIMITS_OF_2025_UPSTREAMS;
    await rerunTimeouts(tool, faceV2.url, direct, throughV2, join(runDir, "face-again"), SPEC_VERSION, TIMING, (s, p) =>
      limitedBy(v2Limits, s, p),
    );
    await rerunTimeouts(
      tool,
      faceV1.url,
      direct,
      throughV1,
      join(runDir, "face-v1-again"),
      SPEC_VERSION,
      TIMING,
      (s, p) => limitedBy(v1Limits, s, p),
    );
    const variant = (upstream: string, run: ServerRun, limits: Readonly<Record<string, BridgeLimit>>, face: Face) => ({
      upstream,
      run,
      limits,
      ...compare(direct, run, limits),
      faceLog: face.stderr(),
    });
    const summary: ModernServerConformanceSummary = {
      version: MODERN_SERVER_SUITE_VERSION,
      scenarios,
      direct,
      variants: [variant("SDK v2", throughV2, v2Limits, faceV2), variant("SDK v1", throughV1, v1Limits, faceV1)],
      durationMs: Date.now() - started,
    };
    writeFileSync(join(runDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
    rmSync(final, { recursive: true, force: true });
    renameSync(runDir, final);
    return summary;
  } finally {
    await Promise.all(faces.map((face) => face.stop()));
    await Promise.all([modern.close(), legacy.close(), legacyV1.close()]);
    rmSync(runDir, { recursive: true, force: true });
    rmSync(authDir, { recursive: true, force: true });
  }
}

/**
 * "2026-07-28 server scenarios (0.2.0-alpha.12): direct 39/40; through the HTTP face to a 2025-only SDK v2
 * server 36/40 (2 limits of the 2025 wire), to a 2025-only SDK v1 server 37/40 (…)".
 */
export function formatModernServerSummary(summary: ModernServerConformanceSummary): string {
  const again = (run: ServerRun) => {
    const rerun = run.results.filter((r) => r.timedOutFirst).map((r) => r.scenario);
    return rerun.length > 0 ? `; run again after a timeout: ${rerun.join(", ")}` : "";
  };
  const faces = summary.variants.map(
    (v) =>
      `to a 2025-only ${v.upstream} server ${v.run.passed}/${v.run.total} (limits of the 2025 wire: ${v.limited.join(", ") || "none"}; regressions: ${v.regressions.join(", ") || "none"}${again(v.run)})`,
  );
  return `2026-07-28 server scenarios (${summary.version}): direct ${summary.direct.passed}/${summary.direct.total}; through the HTTP face ${faces.join("; ")}`;
}

/** One line per scenario with its verdict on each side, and the problems of any side that failed. */
export function formatModernServerScenarios(summary: ModernServerConformanceSummary): string[] {
  const mark = (r: ServerScenarioResult | undefined) => (r?.passed ? "pass" : "FAIL");
  return summary.direct.results.map((direct, index) => {
    const faces = summary.variants.map((v) => `face ${v.upstream} ${mark(v.run.results[index])}`);
    const lines = [`${direct.scenario}: direct ${mark(direct)}, ${faces.join(", ")}`];
    for (const p of direct.problems) lines.push(`     direct: ${p}`);
    for (const v of summary.variants) {
      const result = v.run.results[index];
      for (const p of result?.timedOutFirst ?? []) lines.push(`     face ${v.upstream}, first run (timed out): ${p}`);
      for (const p of result?.problems ?? []) lines.push(`     face ${v.upstream}: ${p}`);
    }
    return lines.join("\n");
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const outIndex = argv.indexOf("--out");
  const outDir = outIndex >= 0 && argv[outIndex + 1] ? resolve(argv[outIndex + 1] as string) : undefined;
  runModernServerConformance(outDir ? { outDir } : {}).then(
    (summary) => {
      for (const line of formatModernServerScenarios(summary)) console.log(line);
      console.log(formatModernServerSummary(summary));
      console.log(`(${(summary.durationMs / 1000).toFixed(0)} s)`);
      process.exit(summary.variants.every((v) => v.regressions.length === 0) ? 0 : 1);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
