/**
 * `npm run bench`: the same SDK client code, measured on each path to one protected upstream, in one run.
 *
 * Paths: direct (SDK client with a bearer from the test AS), the HTTP face (`/mcp`; and `/sse` against a direct
 * legacy SSE connection, both to the legacy SSE upstream and bridged to the Streamable HTTP one), the stdio face (`dist/main.js stdio`), and mcp-remote 0.15.1 (its store pre-seeded) as
 * the reference; and (issue 7) `serve --config` with ten configured upstreams, the client on one of them, next to
 * the one-upstream HTTP face. The proxy runs on its real OAuth path: `dist/main.js auth` signs in through the test
 * AS with the headless browser, and every proxy process reads that store at start like a user's would.
 *
 * Rounds are interleaved (every path once per round, in a rotated order; a new process per path per round) and
 * medians over rounds are reported: a table of absolute numbers and ratios to direct, PASS/MISS per target of
 * issues 4 and 7 and of the upstream client transport (stdio face and bridged `/sse` against direct). Saved to bench/results/<timestamp>.json and bench/results/latest.md.
 *
 * Options: --quick (about a minute), --rounds N, --paths direct,http,…, --profile (proxy processes write V8 CPU
 * profiles to bench/results/profiles/<timestamp>/), --no-strace, --no-many-users (skips bench/many-users.ts, run after
 * the paths). Only 127.0.0.1 traffic; every loop is bounded.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { checkDiskReads, type DiskReadCheck, straceAvailable } from "./disk-reads.ts";
import { MANY_UPSTREAMS, writeManyUpstreamsConfig } from "./many-upstreams.ts";
import { type BackendResult, manyUsersTable, runManyUsers } from "./many-users.ts";
import { seedMcpRemoteStore } from "./mcp-remote-store.ts";
import {
  childEnvironment,
  definePaths,
  freePort,
  type PathDef,
  type PathId,
  type PathSession,
  REPO_ROOT,
} from "./paths.ts";
import { cpuTimeMs, memoryStats } from "./proc-stats.ts";
import {
  contextLines,
  evaluateTargets,
  metricsTable,
  type PathSummary,
  type RoundResult,
  summarize,
  targetsTable,
} from "./report.ts";
import { stdioFloorTimes } from "./stdio-floor.ts";
import { UpstreamHandle } from "./upstream-handle.ts";
import {
  bigResult,
  echo,
  median,
  pairedLatencies,
  percentile,
  progressRun,
  sequentialLatencies,
  throughput,
} from "./workloads.ts";

interface Plan {
  rounds: number;
  warmupCalls: number;
  sequentialCalls: number;
  sequentialBudgetMs: number;
  calls16: number;
  budget16Ms: number;
  calls64: number;
  budget64Ms: number;
  bigRepeats: number;
  progressSteps: number;
  straceCalls: number;
  /** Echo pairs in turn with the path's direct baseline (pairedLatencies), after the path's throughput runs. */
  pairedCalls: number;
  pairedBudgetMs: number;
}

const BIG_BYTES = 5_000_000;
const FULL: Plan = {
  rounds: 5,
  warmupCalls: 100,
  sequentialCalls: 400,
  sequentialBudgetMs: 3_000,
  calls16: 1_000,
  budget16Ms: 2_000,
  calls64: 2_000,
  budget64Ms: 3_000,
  bigRepeats: 3,
  progressSteps: 10_000,
  straceCalls: 200,
  pairedCalls: 400,
  pairedBudgetMs: 6_000,
};
const QUICK: Plan = {
  rounds: 2,
  warmupCalls: 50,
  sequentialCalls: 200,
  sequentialBudgetMs: 1_500,
  calls16: 400,
  budget16Ms: 1_000,
  calls64: 800,
  budget64Ms: 1_500,
  bigRepeats: 1,
  progressSteps: 10_000,
  straceCalls: 100,
  pairedCalls: 200,
  pairedBudgetMs: 3_000,
};

const execFileAsync = promisify(execFile);
const RESULTS_DIR = join(REPO_ROOT, "bench", "results");
const PROXY_MAIN = join(REPO_ROOT, "dist", "main.js");
const HEADLESS_BROWSER = join(REPO_ROOT, "test", "fixtures", "headless-browser.mjs");

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/**
 * `dist/main.js auth <url>` (or `auth --all --config FILE`): the proxy signs in through the test AS, the headless
 * browser acting as the user.
 */
async function proxySignIn(target: string[], authDir: string, timeoutMs = 60_000): Promise<void> {
  try {
    await execFileAsync(process.execPath, [PROXY_MAIN, "auth", ...target, "--auth-dir", authDir, "--port", "0"], {
      cwd: REPO_ROOT,
      env: childEnvironment({ BROWSER: `${process.execPath} ${HEADLESS_BROWSER}` }),
      timeout: timeoutMs,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`proxy sign-in (auth ${target.join(" ")}) failed: ${describe(error)} ${stderr}`);
  }
}

/** Time to start and exit `node -e 0`: what any Node-based proxy pays before its first line runs. */
function nodeStartMs(): number {
  const started = performance.now();
  spawnSync(process.execPath, ["-e", "0"], { stdio: "ignore" });
  return performance.now() - started;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The direct baselines' sessions of one round, each opened (and warmed like the upstream at the start) the first
 * time a path is paired with it, and kept open for the round's other paths.
 */
class BaselineSessions {
  private readonly open = new Map<PathId, Promise<PathSession>>();

  constructor(private readonly paths: PathDef[]) {}

  client(id: PathId): Promise<PathSession["client"]> {
    let session = this.open.get(id);
    if (!session) {
      const path = this.paths.find((p) => p.id === id);
      if (!path) return Promise.reject(new Error(`no baseline path ${id}`));
      session = path.open().then(async (opened) => {
        for (let i = 0; i < 300; i++) await echo(opened.client);
        return opened;
      });
      this.open.set(id, session);
    }
    return session.then((opened) => opened.client);
  }

  async close(): Promise<void> {
    const sessions = [...this.open.values()];
    this.open.clear();
    await Promise.all(sessions.map((session) => session.then((opened) => opened.close()).catch(() => {})));
  }
}

async function measure(
  path: PathDef,
  round: number,
  plan: Plan,
  upstream: UpstreamHandle,
  baselines: BaselineSessions,
): Promise<RoundResult> {
  await upstream.resetFixtureStats();
  await upstream.counts(true);
  const session = await path.open();
  try {
    const counts = await upstream.counts(true);
    const servers = [counts.mcp, counts.sse, counts.modern, counts.extra];
    const startRequests = {
      mcp: servers.reduce((sum, server) => sum + server.mcp, 0),
      discovery:
        counts.as.discovery + counts.as.other + counts.as.mcp + servers.reduce((sum, s) => sum + s.discovery, 0),
    };
    const pid = session.pid;
    await sleep(250);
    const idleRssMiB = pid ? memoryStats(pid).rssMiB : undefined;

    for (let i = 0; i < plan.warmupCalls; i++) await echo(session.client);
    const latencies = await sequentialLatencies(session.client, plan.sequentialCalls, plan.sequentialBudgetMs);
    const run16 = await throughput(session.client, plan.calls16, 16, plan.budget16Ms);

    const proxyCpu0 = pid ? cpuTimeMs(pid) : 0;
    const upstreamCpu0 = cpuTimeMs(upstream.pid);
    const clientCpu0 = process.cpuUsage();
    const run64 = await throughput(session.client, plan.calls64, 64, plan.budget64Ms);
    const proxyCpu = pid ? cpuTimeMs(pid) - proxyCpu0 : undefined;
    const upstreamCpu = cpuTimeMs(upstream.pid) - upstreamCpu0;
    const clientUsage = process.cpuUsage(clientCpu0);

    // The p50 against the direct baseline in turn, both warm (the proxy has served the runs above).
    let paired: RoundResult["paired"];
    if (path.baseline !== path.id) {
      const base = await baselines.client(path.baseline);
      const turns = await pairedLatencies(session.client, base, plan.pairedCalls, plan.pairedBudgetMs);
      paired = { p50: percentile(turns.a, 50), baselineP50: percentile(turns.b, 50), pairs: turns.a.length };
    }

    const peakRssBeforeBigMiB = pid ? memoryStats(pid).hwmMiB : undefined;
    const bigTimes: number[] = [];
    for (let i = 0; i < plan.bigRepeats; i++) bigTimes.push(await bigResult(session.client, BIG_BYTES));
    const peakRssMiB = pid ? memoryStats(pid).hwmMiB : undefined;
    const progress = await progressRun(session.client, plan.progressSteps);

    return {
      round,
      path: path.id,
      startMs: session.startMs,
      listeningMs: session.listeningMs,
      startRequests,
      idleRssMiB,
      peakRssMiB,
      peakRssBeforeBigMiB,
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      cps16: run16.perSecond,
      cps64: run64.perSecond,
      proxyCpuMsPerCall: proxyCpu === undefined ? undefined : proxyCpu / run64.calls,
      upstreamCpuMsPerCall: upstreamCpu / run64.calls,
      clientCpuMsPerCall: (clientUsage.user + clientUsage.system) / 1000 / run64.calls,
      bigMs: median(bigTimes),
      progress,
      paired,
    };
  } catch (error) {
    throw new Error(`${describe(error)}\nproxy stderr:\n${session.stderr().slice(-4000)}`);
  } finally {
    await session.close().catch(() => {});
  }
}

async function diskCheck(path: PathDef, plan: Plan, workDir: string): Promise<DiskReadCheck | { error: string }> {
  const session = await path.open();
  try {
    if (!session.pid) return { error: "no process" };
    for (let i = 0; i < plan.warmupCalls; i++) await echo(session.client);
    return await checkDiskReads(session.pid, workDir, plan.straceCalls, async () => {
      for (let i = 0; i < plan.straceCalls; i++) await echo(session.client);
    });
  } catch (error) {
    return { error: describe(error).split("\n")[0] ?? "failed" };
  } finally {
    await session.close().catch(() => {});
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean" },
      rounds: { type: "string" },
      paths: { type: "string" },
      profile: { type: "boolean" },
      "no-strace": { type: "boolean" },
      "no-many-users": { type: "boolean" },
    },
  });
  const plan = { ...(values.quick ? QUICK : FULL) };
  if (values.rounds) {
    const rounds = Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error("--rounds must be 1-20");
    plan.rounds = rounds;
  }
  return {
    plan,
    quick: values.quick === true,
    only: values.paths ? new Set(values.paths.split(",").map((p) => p.trim())) : undefined,
    profile: values.profile === true,
    strace: values["no-strace"] !== true,
    manyUsers: values["no-many-users"] !== true,
  };
}

/**
 * The SDK's HTTP client transports hand one long-lived AbortSignal to every fetch, and Node's fetch adds a listener
 * to it per request (dropped only when the request is garbage-collected): long runs trip MaxListenersExceededWarning
 * in this process, on every HTTP path alike. Say so once instead of once per request.
 */
function quietListenerWarnings(): void {
  process.removeAllListeners("warning");
  let noted = false;
  process.on("warning", (warning) => {
    if (warning.name === "MaxListenersExceededWarning") {
      if (!noted) log("bench: note: the SDK client's shared AbortSignal collects a listener per fetch (SDK behaviour)");
      noted = true;
      return;
    }
    log(`${warning.name}: ${warning.message}`);
  });
}

async function main(): Promise<void> {
  quietListenerWarnings();
  const options = parseOptions();
  const { plan } = options;
  if (!existsSync(PROXY_MAIN)) throw new Error("dist/main.js is missing: run `npm run build` (npm run bench does).");
  const began = performance.now();
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const loadBefore = loadavg();
  log(`bench: ${options.quick ? "quick" : "full"} run, ${plan.rounds} rounds; load average ${fmtLoad(loadBefore)}`);

  const work = mkdtempSync(join(tmpdir(), "mcp-u2m-bench-"));
  // The many-upstreams path needs nine more upstream servers: started only when that path is measured.
  const many = !options.only || options.only.has("http-10");
  const upstream = await UpstreamHandle.start(many ? MANY_UPSTREAMS - 1 : 0);
  try {
    const { mcpUrl, sseUrl, modernUrl, extraMcpUrls } = upstream.info;
    const proxyAuthDir = join(work, "proxy-auth");
    const mcpRemoteDir = join(work, "mcp-remote");
    const callbackPort = await freePort();
    log("bench: signing in (proxy through its CLI and the headless browser; direct tokens; mcp-remote store)…");
    const [direct, directSse, directModern] = await Promise.all([
      upstream.signIn(mcpUrl),
      upstream.signIn(sseUrl),
      upstream.signIn(modernUrl),
      proxySignIn([mcpUrl], proxyAuthDir),
      proxySignIn([sseUrl], proxyAuthDir),
      proxySignIn([modernUrl], proxyAuthDir),
      seedMcpRemoteStore(upstream, mcpUrl, mcpRemoteDir, callbackPort),
    ]);
    // The ten entries sign in the same way, one after the other (`auth --all`); the measured one, for mcpUrl, is
    // already signed in above (same URL, same store key) and is only checked. After the parallel sign-ins, so that
    // no two processes sign in to mcpUrl at once.
    const manyUpstreams = many ? writeManyUpstreamsConfig(work, mcpUrl, extraMcpUrls) : undefined;
    if (manyUpstreams) {
      log(`bench: signing in to the ${MANY_UPSTREAMS} configured upstreams (auth --all --config)…`);
      await proxySignIn(["--all", "--config", manyUpstreams.file], proxyAuthDir, 180_000);
    }
    const profileDir = options.profile ? join(RESULTS_DIR, "profiles", stamp) : undefined;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const allPaths = definePaths({
      mcpUrl,
      sseUrl,
      modernUrl,
      tokens: {
        mcp: direct.token.access_token,
        sse: directSse.token.access_token,
        modern: directModern.token.access_token,
      },
      proxyAuthDir,
      mcpRemote: { configDir: mcpRemoteDir, callbackPort },
      ...(manyUpstreams ? { manyUpstreams: { ...manyUpstreams, count: MANY_UPSTREAMS } } : {}),
      ...(profileDir ? { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] } : {}),
    });
    const wanted = options.only;
    // A path named brings its direct baseline and its peer (the many-upstreams case: the one-upstream face).
    const paths = wanted
      ? allPaths.filter(
          (p) => wanted.has(p.id) || allPaths.some((q) => wanted.has(q.id) && (q.baseline === p.id || q.peer === p.id)),
        )
      : allPaths;
    if (paths.length === 0) throw new Error(`--paths matched nothing; paths: ${allPaths.map((p) => p.id).join(",")}`);

    // Warm the upstream (JIT, the MCP servers' JWKS cache) so the first path measured does not pay for it.
    log("bench: warming up the upstream…");
    for (const path of allPaths.filter((p) => p.face === "direct")) {
      const session = await path.open();
      for (let i = 0; i < 300; i++) await echo(session.client);
      await throughput(session.client, 500, 64, 5_000);
      await bigResult(session.client, BIG_BYTES);
      await progressRun(session.client, 2_000);
      await session.close();
    }

    const results = new Map<PathId, RoundResult[]>(paths.map((p) => [p.id, []]));
    const errors = new Map<PathId, string[]>(paths.map((p) => [p.id, []]));
    const nodeStarts: number[] = [];
    const stdioFloorMs: number[] = [];
    for (let round = 0; round < plan.rounds; round++) {
      nodeStarts.push(nodeStartMs());
      const order = paths.map((_, i) => paths[(i + round) % paths.length] as PathDef);
      const baselines = new BaselineSessions(allPaths);
      for (const path of order) {
        const t0 = performance.now();
        try {
          const result = await measure(path, round, plan, upstream, baselines);
          results.get(path.id)?.push(result);
          log(
            `bench: round ${round + 1}/${plan.rounds} ${path.label}: p50 ${result.p50.toFixed(2)} ms` +
              (result.paired
                ? ` (in turn with ${path.baseline}: ${result.paired.p50.toFixed(2)} vs ${result.paired.baselineP50.toFixed(2)} ms), `
                : ", ") +
              `${result.cps64.toFixed(0)} calls/s at 64, start ${result.startMs.toFixed(0)} ms ` +
              `(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
          );
        } catch (error) {
          const message = describe(error);
          errors.get(path.id)?.push(`round ${round + 1}: ${message}`);
          log(`bench: round ${round + 1} ${path.label} FAILED: ${message.split("\n")[0]}`);
        }
      }
      await baselines.close();
      // The stdio client's own floor for the 5 MB line, in the same round as the stdio face it bounds.
      if (paths.some((path) => path.id === "stdio")) {
        stdioFloorMs.push(...(await stdioFloorTimes(BIG_BYTES, plan.bigRepeats)));
      }
    }

    const summaries = new Map<PathId, PathSummary>();
    for (const path of paths) {
      summaries.set(path.id, summarize(path, results.get(path.id) ?? [], errors.get(path.id) ?? []));
    }

    const haveStrace = options.strace && straceAvailable();
    for (const path of paths.filter((p) => p.face !== "direct" && p.face !== "floor")) {
      const summary = summaries.get(path.id);
      if (!summary) continue;
      if (!haveStrace) continue;
      log(`bench: strace on ${path.label} for ${plan.straceCalls} calls…`);
      summary.disk = await diskCheck(path, plan, work);
    }

    const targets = evaluateTargets(summaries, plan.progressSteps, BIG_BYTES);
    const loadAfter = loadavg();
    const elapsedS = (performance.now() - began) / 1000;
    const meta = {
      date: new Date().toISOString(),
      mode: options.quick ? "quick" : "full",
      plan,
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadAfter,
      nodeStartMs: median(nodeStarts),
      elapsedSeconds: elapsedS,
      strace: haveStrace,
      profileDir,
      commit: gitCommit(),
      stdioFloorBigMs: stdioFloorMs.length > 0 ? median(stdioFloorMs) : undefined,
    };
    const metrics = metricsTable(summaries, plan.progressSteps, BIG_BYTES);
    const targetTable = targetsTable(targets, summaries);
    // Issue 10's load case (many users, shared stores, several replicas) after the paths, in the same run.
    const manyUsers: BackendResult[] = options.manyUsers ? await runManyUsers({ quick: options.quick }) : [];
    const markdown = `${renderMarkdown(meta, metrics, targetTable, summaries)}${manyUsers.length > 0 ? `\n\n${manyUsersTable(manyUsers)}\n` : ""}`;

    mkdirSync(RESULTS_DIR, { recursive: true });
    const jsonPath = join(RESULTS_DIR, `${stamp}.json`);
    writeFileSync(
      jsonPath,
      `${JSON.stringify(
        { meta, summaries: Object.fromEntries(summaries), targets, rounds: Object.fromEntries(results), manyUsers },
        null,
        2,
      )}\n`,
    );
    writeFileSync(join(RESULTS_DIR, "latest.md"), markdown);
    process.stdout.write(`${markdown}\n`);
    log(`bench: saved ${jsonPath} and bench/results/latest.md (${elapsedS.toFixed(0)} s)`);
  } finally {
    await upstream.close();
    rmSync(work, { recursive: true, force: true });
  }
}

function fmtLoad(load: number[]): string {
  return load.map((value) => value.toFixed(2)).join(", ");
}

/** The commit measured, marked "+ local changes" when src/ differs from it (the build is of the working tree). */
function gitCommit(): string | undefined {
  const result = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" });
  if (result.status !== 0) return undefined;
  const status = spawnSync("git", ["status", "--porcelain", "--", "src"], { cwd: REPO_ROOT, encoding: "utf8" });
  return `${result.stdout.trim()}${status.stdout.trim() ? " + local changes in src/" : ""}`;
}

function renderMarkdown(
  meta: {
    date: string;
    mode: string;
    plan: Plan;
    node: string;
    cpus: number;
    cpuModel: string;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
    nodeStartMs: number;
    elapsedSeconds: number;
    commit: string | undefined;
    stdioFloorBigMs?: number | undefined;
  },
  metrics: string,
  targets: string,
  summaries: Map<PathId, PathSummary>,
): string {
  const errors = [...summaries.values()].flatMap((s) => s.errors.map((e) => `- ${s.label}: ${e.split("\n")[0]}`));
  const context = contextLines(summaries, { stdioFloorBigMs: meta.stdioFloorBigMs });
  return [
    `## Benchmark ${meta.date} (${meta.mode}, ${meta.plan.rounds} rounds, medians)`,
    "",
    `Node ${meta.node}, ${meta.cpus} × ${meta.cpuModel}; commit ${meta.commit ?? "?"}; ` +
      `load average (1/5/15 min) ${fmtLoad(meta.loadAverageBefore)} before, ${fmtLoad(meta.loadAverageAfter)} after; ` +
      `\`node -e 0\` starts and exits in ${meta.nodeStartMs.toFixed(0)} ms; run took ${meta.elapsedSeconds.toFixed(0)} s.`,
    "Ratios are to the direct path over the same transport (HTTP face /sse, also bridged: to direct SSE).",
    "",
    metrics,
    "",
    "### Targets (issues 4 and 7; upstream transport)",
    "",
    targets,
    ...(context.length ? ["", "### Context", "", ...context] : []),
    ...(errors.length ? ["", "### Failed rounds", "", ...errors] : []),
    "",
  ].join("\n");
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench failed: ${describe(error)}`);
    process.exit(1);
  },
);
