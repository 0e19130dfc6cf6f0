/**
 * Runs the official MCP conformance suite's 2026-07-28 server scenarios (@modelcontextprotocol/conformance
 * 0.2.0-alpha.12 `conformance server --suite all --spec-version 2026-07-28`) twice, at once: directly against the
 * reference server on the 2026-07-28 wire (reference-server.ts `wire: "2026"`, SDK v2 `createMcpHandler`), and
 * against the proxy's HTTP face (the built CLI) in front of the reference server on the 2025 session wire only,
 * so the face answers the suite's 2026-07-28 client from a 2025 upstream (issue 8 §3, bridge B). A scenario passes
 * when its checks.json has no FAILURE and no WARNING. Results: test-results/conformance/server-<version>/.
 *
 * Usage (after `npm run build`): node --import tsx test/conformance/run-server-conformance-2026.ts [--out DIR]
 * Exits 0 when every scenario that passes directly also passes through the face.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startReferenceServer } from "./reference-server.ts";
import { locateSuite } from "./run-conformance.ts";
import {
  type Face,
  listServerScenarios,
  runServerSuite,
  type ServerRun,
  type ServerScenarioResult,
  startFace,
} from "./run-server-conformance.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The pinned suite and the revision whose scenarios it runs (cumulative: the 2025 ones that still apply, too). */
export const MODERN_SERVER_SUITE_VERSION = "0.2.0-alpha.12";
const SPEC_VERSION = ["--spec-version", "2026-07-28"];

export interface ModernServerConformanceSummary {
  version: string;
  scenarios: string[];
  /** The suite against the 2026-07-28 reference directly. */
  direct: ServerRun;
  /** The suite against the face in front of the 2025-only reference. */
  face: ServerRun;
  /** Passed directly but not through the face. */
  regressions: string[];
  faceLog: string;
  durationMs: number;
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
  let face: Face | undefined;
  try {
    const [tool, startedFace] = await Promise.all([
      locateSuite(MODERN_SERVER_SUITE_VERSION),
      startFace(legacy.url, join(authDir, "a")),
    ]);
    face = startedFace;
    const scenarios = await listServerScenarios(tool, SPEC_VERSION);
    const [direct, throughFace] = await Promise.all([
      runServerSuite(tool, "direct", modern.url, scenarios, join(runDir, "direct"), SPEC_VERSION),
      runServerSuite(tool, "face", face.url, scenarios, join(runDir, "face"), SPEC_VERSION),
    ]);
    const faceResult = new Map(throughFace.results.map((r) => [r.scenario, r]));
    const summary: ModernServerConformanceSummary = {
      version: MODERN_SERVER_SUITE_VERSION,
      scenarios,
      direct,
      face: throughFace,
      regressions: direct.results.filter((r) => r.passed && !faceResult.get(r.scenario)?.passed).map((r) => r.scenario),
      faceLog: face.stderr(),
      durationMs: Date.now() - started,
    };
    writeFileSync(join(runDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
    rmSync(final, { recursive: true, force: true });
    renameSync(runDir, final);
    return summary;
  } finally {
    await face?.stop();
    await Promise.all([modern.close(), legacy.close()]);
    rmSync(runDir, { recursive: true, force: true });
    rmSync(authDir, { recursive: true, force: true });
  }
}

/** "2026-07-28 server scenarios (0.2.0-alpha.12): direct 25/40, through the HTTP face to a 2025-only server 25/40". */
export function formatModernServerSummary(summary: ModernServerConformanceSummary): string {
  return `2026-07-28 server scenarios (${summary.version}): direct ${summary.direct.passed}/${summary.direct.total}, through the HTTP face to a 2025-only server ${summary.face.passed}/${summary.face.total}`;
}

/** One line per scenario with its verdict on each side, and the problems of any side that failed. */
export function formatModernServerScenarios(summary: ModernServerConformanceSummary): string[] {
  return summary.direct.results.map((direct, index) => {
    const face = summary.face.results[index] as ServerScenarioResult;
    const mark = (r: ServerScenarioResult) => (r.passed ? "pass" : "FAIL");
    const lines = [`${direct.scenario}: direct ${mark(direct)}, face ${mark(face)}`];
    for (const p of direct.problems) lines.push(`     direct: ${p}`);
    for (const p of face.problems) lines.push(`     face: ${p}`);
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
      process.exit(summary.regressions.length === 0 ? 0 : 1);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
