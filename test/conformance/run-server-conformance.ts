/**
 * Runs the official MCP conformance suite's server scenarios (@modelcontextprotocol/conformance 0.1.16
 * `conformance server --suite all`: the active scenarios plus the pending ones) twice: directly against the
 * reference server (reference-server.ts, SDK v2), and against the proxy's HTTP face fronting it (the built CLI,
 * `node dist/main.js serve <reference> --port 0`). Both runs go at once, each suite process running its scenarios
 * one after the other (the whole set takes seconds). A scenario passes when its checks.json has no FAILURE and no
 * WARNING. Results go under test-results/conformance/server-<version>/{direct,face}/ with a summary.json.
 *
 * The upstream needs no authorization: these scenarios test the transport and the protocol, and what the face adds
 * (its own DNS rebinding protection, relaying sessions, SSE streams and server-to-client requests).
 *
 * Usage (after `npm run build`): node --import tsx test/conformance/run-server-conformance.ts [--out DIR]
 * Exits 0 when dns-rebinding-protection passes through the face and every scenario that passes directly also
 * passes through the face.
 */
import { execFile, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startReferenceServer } from "./reference-server.ts";
import { startReferenceServerV1 } from "./reference-server-v1.ts";
import { locateSuite, type SuiteTool } from "./run-conformance.ts";

const execFileAsync = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const CLI = join(REPO, "dist", "main.js");

/** The pinned suite: 0.1.16 tests the 2025-11-25 requirements (its server scenarios are the same in the alpha). */
export const SERVER_SUITE_VERSION = "0.1.16";

export interface ServerScenarioResult {
  scenario: string;
  passed: boolean;
  counts: Record<"SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED", number>;
  /** One line per FAILURE/WARNING check, or why there is no checks.json. */
  problems: string[];
  /** The ids of the FAILURE/WARNING checks (a check id may repeat). */
  failedChecks: string[];
  /** The problems of a first run through the face that only timed out; the scenario was then run again alone. */
  timedOutFirst?: string[];
}

export interface ServerRun {
  target: "direct" | "face";
  url: string;
  results: ServerScenarioResult[];
  passed: number;
  total: number;
  durationMs: number;
}

export interface ServerConformanceSummary {
  version: string;
  /** Every server scenario `conformance list --server` names; `pending` ones are outside `--suite active`. */
  scenarios: string[];
  direct: ServerRun;
  face: ServerRun;
  /** Passed directly but not through the face. */
  regressions: string[];
  /**
   * The same suite (a 2025-era client) through a face in front of the reference server on the 2026-07-28 wire only
   * (`legacy: "reject"`), so through the proxy's revision bridge; compared with the 2025 reference directly.
   */
  bridged: ServerRun;
  /** Passed directly (2025 reference) but not through the bridge to the 2026-07-28-only reference. */
  bridgedRegressions: string[];
  /** The suite directly against the SDK v1 reference (reference-server-v1.ts, 2025 session wire). */
  v1Direct: ServerRun;
  /** The suite through a face in front of the SDK v1 reference. */
  v1Face: ServerRun;
  /** Passed directly on the SDK v1 reference but not through its face. */
  v1Regressions: string[];
  dnsRebindingThroughFace: boolean;
  /**
   * dns-rebinding-protection through a face fronting a copy of the reference server without its own Host/Origin
   * check: passes only if the face itself refuses a foreign Host/Origin.
   */
  dnsRebindingFaceOwn: ServerScenarioResult;
  /** The faces' stderr (warnings they printed while the suite ran). */
  faceLog: string;
  durationMs: number;
}

/** The server scenario names the pinned suite lists. */
export async function listServerScenarios(tool: SuiteTool, extraArgs: string[] = []): Promise<string[]> {
  const { stdout, stderr } = await execFileAsync(tool.node, [tool.cli, "list", "--server", ...extraArgs], {
    timeout: 60_000,
  });
  const text = `${stdout}\n${stderr}`;
  const names = [...text.slice(text.indexOf("Server scenarios")).matchAll(/^ {2}- (\S+)/gm)].map((m) => m[1] as string);
  if (names.length === 0) throw new Error(`conformance list --server named no scenario:\n${text}`);
  return names;
}

/**
 * Runs server scenarios against `url` in one suite process (`--suite all`, or `--scenario` when there is only one)
 * and reads each scenario's checks.json.
 */
export async function runServerSuite(
  tool: SuiteTool,
  target: ServerRun["target"],
  url: string,
  scenarios: string[],
  outputDir: string,
  extraArgs: string[] = [],
): Promise<ServerRun> {
  const selection = scenarios.length === 1 ? ["--scenario", scenarios[0] as string] : ["--suite", "all"];
  rmSync(outputDir, { recursive: true, force: true });
  mkdirSync(outputDir, { recursive: true });
  const started = Date.now();
  const log = await new Promise<string>((resolveRun) => {
    const child = spawn(tool.node, [tool.cli, "server", "--url", url, ...selection, ...extraArgs, "-o", outputDir], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    // The scenarios take seconds in all; this only guards against the suite hanging on a stream.
    const guard = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("close", () => {
      clearTimeout(guard);
      resolveRun(output);
    });
  });
  writeFileSync(join(outputDir, "run.log"), log);
  const dirs = readdirSync(outputDir);
  const results = scenarios.map((scenario) => readScenario(outputDir, dirs, scenario, log));
  return {
    target,
    url,
    results,
    passed: results.filter((r) => r.passed).length,
    total: results.length,
    durationMs: Date.now() - started,
  };
}

function readScenario(outputDir: string, dirs: string[], scenario: string, log: string): ServerScenarioResult {
  const result: ServerScenarioResult = {
    scenario,
    passed: false,
    counts: { SUCCESS: 0, FAILURE: 0, WARNING: 0, INFO: 0, SKIPPED: 0 },
    problems: [],
    failedChecks: [],
  };
  // The suite names each result directory server-<scenario>-<ISO timestamp>.
  const escaped = scenario.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`^server-${escaped}-\\d{4}-\\d{2}-\\d{2}T`);
  const dir = dirs.find((name) => pattern.test(name));
  const checksFile = dir ? join(outputDir, dir, "checks.json") : undefined;
  if (!checksFile || !existsSync(checksFile)) {
    const said = log
      .split("\n")
      .filter((line) => line.includes(scenario))
      .slice(-2)
      .join(" | ");
    result.problems.push(`no checks.json${said ? ` (${said.trim()})` : ""}`);
    return result;
  }
  const checks = JSON.parse(readFileSync(checksFile, "utf8")) as {
    id: string;
    status: keyof ServerScenarioResult["counts"];
    errorMessage?: string;
    description?: string;
  }[];
  for (const check of checks) {
    result.counts[check.status] = (result.counts[check.status] ?? 0) + 1;
    if (check.status === "FAILURE" || check.status === "WARNING") {
      result.problems.push(`${check.status} ${check.id}: ${check.errorMessage ?? check.description ?? ""}`.trim());
      result.failedChecks.push(check.id);
    }
  }
  if (checks.length === 0) result.problems.push("checks.json is empty");
  result.passed = result.problems.length === 0;
  return result;
}

export interface Face {
  url: string;
  stderr: () => string;
  stop(): Promise<void>;
}

/** Starts the built CLI's HTTP face in front of `upstream`, with its own token directory and a free port. */
export async function startFace(upstream: string, authDir: string): Promise<Face> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  mkdirSync(authDir, { recursive: true, mode: 0o700 });
  const child = spawn(
    process.execPath,
    [CLI, "serve", upstream, "--port", "0", "--auth-dir", authDir, "--no-browser"],
    {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", BROWSER: "none" },
    },
  );
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the HTTP face printed no address in 30 s:\n${stdout}${stderr}`)),
      30_000,
    );
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const found = /Streamable HTTP\s+(http:\/\/\S+\/mcp)/.exec(stdout);
      if (found) {
        clearTimeout(timer);
        resolveUrl(found[1] as string);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the HTTP face exited (${code}) before it was ready:\n${stdout}${stderr}`));
    });
  });
  return {
    url,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/**
 * A scenario that passed directly but only timed out through the face (the suite's client gives each request a few
 * seconds; a loaded CI host running other suites beside it can exceed that) is run once more, alone. Its first
 * problems are kept on the result, so a retry is visible; any other failure, or a second timeout, stands.
 */
export async function rerunTimeouts(
  tool: SuiteTool,
  url: string,
  direct: ServerRun,
  face: ServerRun,
  outputDir: string,
  extraArgs: string[] = [],
  timedOut: (problem: string) => boolean = (problem) => /timed out/i.test(problem),
  /** Problems the scenario is known to have through this face (they neither cause nor prevent a second run). */
  expected: (scenario: string, problem: string) => boolean = () => false,
): Promise<void> {
  const passedDirectly = new Set(direct.results.filter((r) => r.passed).map((r) => r.scenario));
  for (const [index, result] of face.results.entries()) {
    const onlyTimedOut =
      result.problems.some(timedOut) &&
      result.problems.every((p) => timedOut(p) || p.startsWith("WARNING") || expected(result.scenario, p));
    if (result.passed || !passedDirectly.has(result.scenario) || !onlyTimedOut) continue;
    const again = await runServerSuite(
      tool,
      "face",
      url,
      [result.scenario],
      join(outputDir, result.scenario),
      extraArgs,
    );
    face.results[index] = { ...(again.results[0] as ServerScenarioResult), timedOutFirst: result.problems };
  }
  face.passed = face.results.filter((r) => r.passed).length;
}

/** Runs the server scenarios directly and through the face; writes test-results/conformance/server-<version>/. */
export async function runServerConformance(options: { outDir?: string } = {}): Promise<ServerConformanceSummary> {
  const started = Date.now();
  const outDir = options.outDir ?? join(REPO, "test-results", "conformance");
  const final = join(outDir, `server-${SERVER_SUITE_VERSION}`);
  // A private directory per run, so two runs at once never clobber each other; it replaces `final` when complete.
  const runDir = join(outDir, `.server-run-${process.pid}-${started}`);
  const authDir = mkdtempSync(join(tmpdir(), "mcp-u2m-server-conformance-"));
  const reference = await startReferenceServer();
  const unprotected = await startReferenceServer({ dnsRebindingProtection: false });
  const modern = await startReferenceServer({ wire: "2026" });
  const referenceV1 = await startReferenceServerV1();
  let face: Face | undefined;
  let faceOfUnprotected: Face | undefined;
  let faceOfModern: Face | undefined;
  let faceOfV1: Face | undefined;
  try {
    const [tool, startedFace, startedFaceOfUnprotected, startedFaceOfModern, startedFaceOfV1] = await Promise.all([
      locateSuite(SERVER_SUITE_VERSION),
      startFace(reference.url, join(authDir, "a")),
      startFace(unprotected.url, join(authDir, "b")),
      startFace(modern.url, join(authDir, "c")),
      startFace(referenceV1.url, join(authDir, "d")),
    ]);
    face = startedFace;
    faceOfUnprotected = startedFaceOfUnprotected;
    faceOfModern = startedFaceOfModern;
    faceOfV1 = startedFaceOfV1;
    const scenarios = await listServerScenarios(tool);
    const [direct, throughFace, own, v1Direct] = await Promise.all([
      runServerSuite(tool, "direct", reference.url, scenarios, join(runDir, "direct")),
      runServerSuite(tool, "face", face.url, scenarios, join(runDir, "face")),
      runServerSuite(tool, "face", faceOfUnprotected.url, ["dns-rebinding-protection"], join(runDir, "face-own-dns")),
      runServerSuite(tool, "direct", referenceV1.url, scenarios, join(runDir, "direct-v1")),
    ]);
    // After the others: the host is shared, and the suite's timeouts are short.
    const bridged = await runServerSuite(tool, "face", faceOfModern.url, scenarios, join(runDir, "bridged"));
    const v1Face = await runServerSuite(tool, "face", faceOfV1.url, scenarios, join(runDir, "face-v1"));
    await rerunTimeouts(tool, face.url, direct, throughFace, join(runDir, "face-again"));
    await rerunTimeouts(tool, faceOfModern.url, direct, bridged, join(runDir, "bridged-again"));
    await rerunTimeouts(tool, faceOfV1.url, v1Direct, v1Face, join(runDir, "face-v1-again"));
    const faceResult = new Map(throughFace.results.map((r) => [r.scenario, r]));
    const bridgedResult = new Map(bridged.results.map((r) => [r.scenario, r]));
    const v1FaceResult = new Map(v1Face.results.map((r) => [r.scenario, r]));
    const summary: ServerConformanceSummary = {
      version: SERVER_SUITE_VERSION,
      scenarios,
      direct,
      face: throughFace,
      regressions: direct.results.filter((r) => r.passed && !faceResult.get(r.scenario)?.passed).map((r) => r.scenario),
      bridged,
      bridgedRegressions: direct.results
        .filter((r) => r.passed && !bridgedResult.get(r.scenario)?.passed)
        .map((r) => r.scenario),
      v1Direct,
      v1Face,
      v1Regressions: v1Direct.results
        .filter((r) => r.passed && !v1FaceResult.get(r.scenario)?.passed)
        .map((r) => r.scenario),
      dnsRebindingThroughFace: faceResult.get("dns-rebinding-protection")?.passed === true,
      dnsRebindingFaceOwn: own.results[0] as ServerScenarioResult,
      faceLog: `${face.stderr()}(face of the unprotected copy)\n${faceOfUnprotected.stderr()}(face of the 2026-07-28-only copy)\n${faceOfModern.stderr()}(face of the SDK v1 reference)\n${faceOfV1.stderr()}`,
      durationMs: Date.now() - started,
    };
    writeFileSync(join(runDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
    rmSync(final, { recursive: true, force: true });
    renameSync(runDir, final);
    return summary;
  } finally {
    await Promise.all([face?.stop(), faceOfUnprotected?.stop(), faceOfModern?.stop(), faceOfV1?.stop()]);
    await Promise.all([reference.close(), unprotected.close(), modern.close(), referenceV1.close()]);
    rmSync(runDir, { recursive: true, force: true });
    rmSync(authDir, { recursive: true, force: true });
  }
}

/** "server scenarios: direct 31/32, through the HTTP face 31/32 (dns-rebinding-protection: pass)". */
export function formatServerSummary(summary: ServerConformanceSummary): string {
  const dns = summary.dnsRebindingThroughFace ? "pass" : "FAIL";
  const again = summary.face.results.filter((r) => r.timedOutFirst).map((r) => r.scenario);
  const retried = again.length > 0 ? `; run again after a timeout: ${again.join(", ")}` : "";
  return `server scenarios: direct ${summary.direct.passed}/${summary.direct.total}, through the HTTP face ${summary.face.passed}/${summary.face.total} (dns-rebinding-protection: ${dns}${retried}), through the HTTP face bridged to a 2026-07-28-only copy ${summary.bridged.passed}/${summary.bridged.total}; SDK v1 reference direct ${summary.v1Direct.passed}/${summary.v1Direct.total}, through the HTTP face ${summary.v1Face.passed}/${summary.v1Face.total}`;
}

/** One line per scenario: its verdict on each side, and the problems of any side that failed. */
export function formatServerScenarios(summary: ServerConformanceSummary): string[] {
  return summary.direct.results.map((direct, index) => {
    const face = summary.face.results[index] as ServerScenarioResult;
    const mark = (r: ServerScenarioResult) => (r.passed ? "pass" : "FAIL");
    const bridged = summary.bridged.results[index] as ServerScenarioResult;
    const v1Direct = summary.v1Direct.results[index] as ServerScenarioResult;
    const v1Face = summary.v1Face.results[index] as ServerScenarioResult;
    const lines = [
      `${direct.scenario}: direct ${mark(direct)}, face ${mark(face)}, bridged ${mark(bridged)}; SDK v1 direct ${mark(v1Direct)}, face ${mark(v1Face)}`,
    ];
    for (const p of direct.problems) lines.push(`     direct: ${p}`);
    for (const p of face.timedOutFirst ?? []) lines.push(`     face, first run (timed out, run again): ${p}`);
    for (const p of face.problems) lines.push(`     face: ${p}`);
    for (const p of bridged.problems) lines.push(`     bridged: ${p}`);
    for (const p of v1Direct.problems) lines.push(`     SDK v1 direct: ${p}`);
    for (const p of v1Face.problems) lines.push(`     SDK v1 face: ${p}`);
    return lines.join("\n");
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const outIndex = argv.indexOf("--out");
  const outDir = outIndex >= 0 && argv[outIndex + 1] ? resolve(argv[outIndex + 1] as string) : undefined;
  runServerConformance(outDir ? { outDir } : {}).then(
    (summary) => {
      for (const line of formatServerScenarios(summary)) console.log(line);
      console.log(formatServerSummary(summary));
      console.log(`(${(summary.durationMs / 1000).toFixed(0)} s)`);
      const own = summary.dnsRebindingFaceOwn;
      console.log(
        `dns-rebinding-protection through a face fronting an unprotected upstream: ${own.passed ? "pass" : "FAIL"}`,
      );
      const ok =
        summary.dnsRebindingThroughFace &&
        own.passed &&
        summary.regressions.length === 0 &&
        summary.bridgedRegressions.length === 0 &&
        summary.v1Regressions.length === 0;
      process.exit(ok ? 0 : 1);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
