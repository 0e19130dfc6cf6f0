/**
 * Runs the official MCP conformance suite's client auth scenarios, one scenario per suite process, a few at a time
 * (a whole `--suite` at once on 2 cores times scenarios out), against a client of one of these kinds:
 * - "core": test/conformance/conformance-client.ts, the OAuth core in process;
 * - "stdio": test/conformance/conformance-stdio-client.ts, an SDK v2 client driving the real
 *   `dist/main.js stdio <url>`;
 * - "stdio-v1": test/conformance/conformance-v1-stdio-client.ts, the same with an SDK v1 client (2025-11-25 wire);
 * - "http-v1": test/conformance/conformance-v1-http-client.ts, an SDK v1 client over Streamable HTTP to the real
 *   `dist/main.js serve <url>`.
 * The kinds other than core run dist/ (run `npm run build` first).
 * A scenario passes when its checks.json has no FAILURE and no WARNING. Results go under
 * test-results/conformance/<suite version>/ (core) and test-results/conformance/<kind>/<suite version>/ (others).
 *
 * The suite needs Node ≥ 22: it runs on the npm `node@22` package through npx (installed once per version, then
 * started directly), while the client under test runs on this Node (absolute path), compiled once per run.
 *
 * Usage: node --import tsx test/conformance/run-conformance.ts [--suite 0.1.16|0.2.0-alpha.12]...
 *          [--client core|stdio|stdio-v1|http-v1]... [--scenario NAME]... [--concurrency N] [--out DIR]
 * Exits 0 when every required scenario of the selected suites passed (default: core client only).
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
/**
 * The client under test: the OAuth core in process, or a face of the proxy as a child process, driven by an SDK v2
 * client (stdio) or an SDK v1 client (stdio-v1, http-v1).
 */
export type ClientKind = "core" | "stdio" | "stdio-v1" | "http-v1";
const CLIENTS: Record<ClientKind, string> = {
  core: join(HERE, "conformance-client.ts"),
  stdio: join(HERE, "conformance-stdio-client.ts"),
  "stdio-v1": join(HERE, "conformance-v1-stdio-client.ts"),
  "http-v1": join(HERE, "conformance-v1-http-client.ts"),
};
/** How each kind is named in summaries (core: none). */
const FACES: Record<ClientKind, string> = {
  core: "",
  stdio: "stdio face",
  "stdio-v1": "stdio face, SDK v1",
  "http-v1": "HTTP face, SDK v1",
};

function isClientKind(value: string | undefined): value is ClientKind {
  return value !== undefined && Object.hasOwn(CLIENTS, value);
}

/** The 14 scenarios of 0.1.16 `--suite auth` (2025-11-25 requirements). */
const AUTH_2025_11_25 = [
  "auth/metadata-default",
  "auth/metadata-var1",
  "auth/metadata-var2",
  "auth/metadata-var3",
  "auth/basic-cimd",
  "auth/scope-from-www-authenticate",
  "auth/scope-from-scopes-supported",
  "auth/scope-omitted-when-undefined",
  "auth/scope-step-up",
  "auth/scope-retry-limit",
  "auth/token-endpoint-auth-basic",
  "auth/token-endpoint-auth-post",
  "auth/token-endpoint-auth-none",
  "auth/pre-registration",
];

/** The 25 auth scenarios 0.2.0-alpha.12 `--requirements 2026-07-28` requires. */
const AUTH_2026_07_28 = [
  ...AUTH_2025_11_25,
  "auth/resource-mismatch",
  "auth/offline-access-scope",
  "auth/offline-access-not-supported",
  "auth/authorization-server-migration",
  "auth/iss-supported",
  "auth/iss-not-advertised",
  "auth/iss-supported-missing",
  "auth/iss-wrong-issuer",
  "auth/iss-unexpected",
  "auth/iss-normalized",
  "auth/metadata-issuer-mismatch",
];

/** 2025-03-26 fallbacks: in no requirement set, run and reported, not required. */
const AUTH_BACKCOMPAT = ["auth/2025-03-26-oauth-metadata-backcompat", "auth/2025-03-26-oauth-endpoint-fallback"];

export interface SuiteSpec {
  /** The pinned @modelcontextprotocol/conformance version. */
  version: string;
  label: string;
  required: string[];
  optional: string[];
  /** Extra arguments for each required scenario's run (e.g. the spec version the mock servers speak). */
  args: string[];
  /** `conformance list …` arguments whose auth/* client scenarios must equal `required` (checked before running). */
  requirementList?: string[];
  /** The client's token store: in memory, or the FileTokenStore (the product's default) in a temporary directory. */
  store: "memory" | "file";
}

export const SUITES: SuiteSpec[] = [
  { version: "0.1.16", label: "0.1.16 auth", required: AUTH_2025_11_25, optional: [], args: [], store: "memory" },
  {
    version: "0.2.0-alpha.12",
    label: "0.2.0-alpha.12 2026-07-28 auth",
    required: AUTH_2026_07_28,
    optional: AUTH_BACKCOMPAT,
    // What `--requirements 2026-07-28` does per scenario: the mock servers speak the 2026-07-28 (stateless) wire.
    // The optional 2025-03-26 scenarios run at their own default wire (2025-11-25).
    args: ["--spec-version", "2026-07-28", "--force"],
    requirementList: ["list", "--requirements", "2026-07-28"],
    store: "file",
  },
];

export interface ScenarioResult {
  scenario: string;
  required: boolean;
  passed: boolean;
  /** Check counts from checks.json. */
  counts: Record<"SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED", number>;
  /** One line per FAILURE/WARNING check (or why there is no checks.json). */
  problems: string[];
  /** Wall time of the suite process for this scenario (mock servers and Node 22 start-up included). */
  durationMs: number;
  /** How long the client under test ran, start-up included (the suite allows 30 s). */
  clientSeconds: number | undefined;
  clientTimedOut: boolean;
  /** Run a second time because the first hit the 30 s limit. */
  retried: boolean;
  outputDir: string;
}

export interface SuiteResult {
  suite: SuiteSpec;
  client: ClientKind;
  results: ScenarioResult[];
  requiredPassed: number;
  requiredTotal: number;
  durationMs: number;
}

interface Check {
  id: string;
  status: keyof ScenarioResult["counts"];
  description?: string;
  errorMessage?: string;
  details?: unknown;
}

export interface SuiteTool {
  node: string;
  cli: string;
}

/**
 * Installs (first time) and locates the suite's Node 22 and CLI through npx, so each scenario then starts without
 * npx: no registry round trip per scenario and no parallel npx runs racing on the cache.
 */
export async function locateSuite(version: string): Promise<SuiteTool> {
  const { stdout } = await execFileAsync(
    "npx",
    [
      "-y",
      "--prefer-offline",
      "-p",
      "node@22",
      "-p",
      `@modelcontextprotocol/conformance@${version}`,
      "--",
      "node",
      "-e",
      "process.stdout.write(JSON.stringify({ node: process.execPath, path: process.env.PATH }))",
    ],
    { cwd: REPO, maxBuffer: 1 << 20, timeout: 300_000 },
  );
  const { node, path } = JSON.parse(stdout.slice(stdout.indexOf("{"))) as { node: string; path: string };
  const bin = path.split(":").find((dir) => existsSync(join(dir, "conformance")));
  if (!bin) throw new Error(`npx did not put a conformance binary on PATH for ${version}`);
  const cli = join(bin, "conformance");
  const { stdout: reported } = await execFileAsync(node, [cli, "--version"], { timeout: 60_000 });
  if (reported.trim() !== version) throw new Error(`expected conformance ${version}, npx gave ${reported.trim()}`);
  return { node, cli };
}

/** Checks the scenario lists above against what the pinned suite itself lists, so a typo cannot skip a scenario. */
async function verifyScenarioLists(suite: SuiteSpec, tool: SuiteTool): Promise<void> {
  const list = async (args: string[]) => {
    const { stdout, stderr } = await execFileAsync(tool.node, [tool.cli, ...args], { timeout: 60_000 });
    const text = `${stdout}\n${stderr}`;
    const clientPart = text.slice(text.indexOf("Client scenarios"));
    return [...clientPart.matchAll(/^ {2}- (\S+)/gm)].map((m) => m[1] as string);
  };
  const known = new Set(await list(["list", "--client"]));
  const unknown = [...suite.required, ...suite.optional].filter((s) => !known.has(s));
  if (unknown.length) throw new Error(`conformance ${suite.version} has no scenario ${unknown.join(", ")}`);
  if (suite.requirementList) {
    const wanted = (await list(suite.requirementList)).filter((s) => s.startsWith("auth/"));
    const missing = wanted.filter((s) => !suite.required.includes(s));
    const extra = suite.required.filter((s) => !wanted.includes(s));
    if (missing.length || extra.length) {
      throw new Error(
        `conformance ${suite.version} ${suite.requirementList.join(" ")}: auth scenarios differ (missing ${missing.join(", ") || "none"}; not listed ${extra.join(", ") || "none"})`,
      );
    }
  }
}

/**
 * Compiles the client and the src/ files it imports to JavaScript in `buildDir` (tsc, types not
 * checked: `npm run typecheck` does that). Started through tsx, the client spends seconds transpiling on a busy
 * 2-core machine, a real share of the suite's 30 s per scenario; compiled, it starts in well under one.
 * The output stays inside the repository so that Node finds node_modules.
 */
async function buildClients(buildDir: string, kinds: ClientKind[]): Promise<Map<ClientKind, string>> {
  const sources = kinds.map((kind) => CLIENTS[kind]);
  const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
  await execFileAsync(
    process.execPath,
    [
      tsc,
      "--outDir",
      buildDir,
      "--rootDir",
      REPO,
      "--module",
      "nodenext",
      "--moduleResolution",
      "nodenext",
      "--target",
      "es2023",
      "--types",
      "node",
      "--verbatimModuleSyntax",
      "--allowImportingTsExtensions",
      "--rewriteRelativeImportExtensions",
      "--skipLibCheck",
      "--noCheck",
      ...sources,
    ],
    { cwd: REPO, timeout: 300_000 },
  );
  const built = new Map<ClientKind, string>();
  for (const kind of kinds) {
    const file = join(buildDir, relative(REPO, CLIENTS[kind]).replace(/\.ts$/, ".js"));
    if (!existsSync(file)) throw new Error(`tsc did not produce ${file}`);
    built.set(kind, clientCommand(file));
  }
  return built;
}

/** The command the suite spawns (it splits on spaces and appends the server URL): the client on this Node. */
function clientCommand(built: string): string {
  const parts = [process.execPath, built];
  if (parts.some((part) => /\s/.test(part))) throw new Error(`paths with spaces are not supported: ${parts.join(" ")}`);
  return parts.join(" ");
}

/** Runs one scenario in its own suite process; once more when only the client's 30 s limit was hit (machine load). */
async function runScenario(
  suite: SuiteSpec,
  tool: SuiteTool,
  command: string,
  scenario: string,
  outRoot: string,
): Promise<ScenarioResult> {
  const first = await runScenarioOnce(suite, tool, command, scenario, outRoot);
  if (first.passed || !first.clientTimedOut) return first;
  const second = await runScenarioOnce(suite, tool, command, scenario, outRoot);
  return { ...second, retried: true, problems: [...second.problems, "(second run: the first hit the 30 s limit)"] };
}

async function runScenarioOnce(
  suite: SuiteSpec,
  tool: SuiteTool,
  command: string,
  scenario: string,
  outRoot: string,
): Promise<ScenarioResult> {
  const outputDir = join(outRoot, scenario.replace(/\//g, "__"));
  rmSync(outputDir, { recursive: true, force: true });
  mkdirSync(outputDir, { recursive: true });
  const started = Date.now();
  const required = suite.required.includes(scenario);
  const args = [tool.cli, "client", "--command", command, "--scenario", scenario, "-o", outputDir];
  if (required) args.push(...suite.args);
  const log = await new Promise<string>((resolveRun) => {
    const child = spawn(tool.node, args, {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CONFORMANCE_TIMING: "1", CONFORMANCE_STORE: suite.store, NO_COLOR: "1" },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    // The suite kills the client after 30 s; this only guards against the suite itself hanging.
    const guard = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("close", () => {
      clearTimeout(guard);
      resolveRun(output);
    });
  });
  writeFileSync(join(outputDir, "run.log"), log);
  const result: ScenarioResult = {
    scenario,
    required,
    passed: false,
    counts: { SUCCESS: 0, FAILURE: 0, WARNING: 0, INFO: 0, SKIPPED: 0 },
    problems: [],
    durationMs: Date.now() - started,
    clientSeconds: undefined,
    clientTimedOut: /Client timed out after/.test(log),
    retried: false,
    outputDir,
  };

  const checksFile = findFile(outputDir, "checks.json");
  const clientLines = readClientLines(checksFile ? join(dirname(checksFile), "stderr.txt") : undefined);
  const timing = clientLines.map((line) => /^exit \d+ after ([\d.]+) s/.exec(line)).find(Boolean);
  if (timing) result.clientSeconds = Number(timing[1]);
  if (!checksFile) {
    const tail = log.trim().split("\n").slice(-3).join(" | ");
    result.problems.push(`no checks.json (${tail})`);
    return result;
  }
  const checks = JSON.parse(readFileSync(checksFile, "utf8")) as Check[];
  for (const check of checks) {
    result.counts[check.status] = (result.counts[check.status] ?? 0) + 1;
    if (check.status === "FAILURE" || check.status === "WARNING") {
      result.problems.push(`${check.status} ${check.id}: ${check.errorMessage ?? check.description ?? ""}`.trim());
    }
  }
  if (checks.length === 0) result.problems.push("checks.json is empty");
  // The suite's own verdict also fails a client that timed out or exited non-zero where it should have succeeded.
  if (!/OVERALL: PASSED/.test(log)) {
    const warnings = log.split("\n").filter((line) => line.includes("⚠️"));
    result.problems.push(
      `suite verdict: FAILED${warnings.length ? ` (${warnings.map((w) => w.trim()).join("; ")})` : ""}`,
    );
  }
  // A scenario that expects the client to fail (scope-retry-limit) also "passes" when the client failed for an
  // unrelated reason; a callback listener that could not bind its port is one, and is never a valid run.
  // (The proxy's own log lines are in the same stderr.txt.)
  const stderrFile = join(dirname(checksFile), "stderr.txt");
  const stderr = existsSync(stderrFile) ? readFileSync(stderrFile, "utf8") : "";
  // (The HTTP face's callback is its own listening port: "Port N on 127.0.0.1 is already in use.")
  const portBusy = /Port \d+ (?:for the OAuth callback|on \S+) is already in use/.exec(stderr)?.[0];
  if (portBusy) result.problems.push(`the client could not bind its callback port: ${portBusy}`);
  const reason = clientLines.filter((line) => !/^exit \d+ after|^warn: /.test(line)).at(-1);
  if (result.problems.length > 0 && reason) result.problems.push(`client said: ${reason}`);
  result.passed = result.problems.length === 0;
  return result;
}

/** The client's own lines (prefix "conformance-client: ") from the stderr the suite saved. */
function readClientLines(path: string | undefined): string[] {
  if (!path || !existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("conformance-client: "))
    .map((line) => line.slice("conformance-client: ".length));
}

function findFile(dir: string, name: string): string | undefined {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return path;
    if (entry.isDirectory()) {
      const found = findFile(path, name);
      if (found) return found;
    }
  }
  return undefined;
}

async function pool<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

export interface RunOptions {
  /** Run only these scenarios (default: all of each suite). */
  scenarios?: string[];
  /** Scenario runs at a time, across suites (default 3: a whole suite at once times out on 2 cores). */
  concurrency?: number;
  /** Default test-results/conformance; each suite writes under <outDir>/<version>/. */
  outDir?: string;
  /** The clients to run each suite against (default core only); every (client, suite) pair shares one pool. */
  clients?: ClientKind[];
  onResult?: (suite: SuiteSpec, result: ScenarioResult, client: ClientKind) => void;
}

/** Where a client's results for a suite go, relative to the output directory. */
function resultPath(client: ClientKind, suite: SuiteSpec): string {
  return client === "core" ? suite.version : join(client, suite.version);
}

/**
 * Runs the scenarios of several suites against one or more clients through one pool, and writes
 * <outDir>/[<client>/]<version>/summary.json per (client, suite).
 */
export async function runSuites(suites: SuiteSpec[], options: RunOptions = {}): Promise<SuiteResult[]> {
  const clients = options.clients ?? ["core"];
  const proxyKinds = clients.filter((client) => client !== "core");
  if (proxyKinds.length > 0 && !existsSync(join(REPO, "dist", "main.js"))) {
    throw new Error(`the ${proxyKinds.join(", ")} client runs dist/main.js: run npm run build first`);
  }
  const started = Date.now();
  const outDir = options.outDir ?? join(REPO, "test-results", "conformance");
  // Private directories for this run, so that two runs at once (say, two people's `npm test`) never clobber each
  // other's client build or results; the results replace <outDir>/<version>/ when the run is complete.
  const runId = `${process.pid}-${started}`;
  const runDir = join(outDir, `.run-${runId}`);
  const buildDir = join(REPO, "test-results", "conformance", `.client-${runId}`);
  try {
    const [commands, located] = await Promise.all([
      buildClients(buildDir, clients),
      Promise.all(
        suites.map(async (suite) => {
          const tool = await locateSuite(suite.version);
          await verifyScenarioLists(suite, tool);
          return tool;
        }),
      ),
    ]);
    const pairs = clients.flatMap((client) => suites.map((suite, index) => ({ client, suite, index })));
    const jobs = pairs.flatMap(({ client, suite, index }) => {
      const all = [...suite.required, ...suite.optional];
      const scenarios = options.scenarios ? all.filter((s) => options.scenarios?.includes(s)) : all;
      const tool = located[index] as SuiteTool;
      const command = commands.get(client) as string;
      return scenarios.map((scenario) => ({ client, suite, tool, command, scenario }));
    });
    const results = await pool(jobs, options.concurrency ?? 3, async ({ client, suite, tool, command, scenario }) => {
      const result = await runScenario(suite, tool, command, scenario, join(runDir, resultPath(client, suite)));
      options.onResult?.(suite, result, client);
      return { client, suite, result };
    });
    return pairs.map(({ client, suite }) => {
      const staged = join(runDir, resultPath(client, suite));
      const final = join(outDir, resultPath(client, suite));
      const own = results
        .filter((r) => r.suite === suite && r.client === client)
        .map(({ result }) => ({ ...result, outputDir: join(final, relative(staged, result.outputDir)) }));
      const required = own.filter((r) => r.required);
      const summary: SuiteResult = {
        suite,
        client,
        results: own,
        requiredPassed: required.filter((r) => r.passed).length,
        requiredTotal: required.length,
        durationMs: Date.now() - started,
      };
      mkdirSync(staged, { recursive: true });
      writeFileSync(join(staged, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
      rmSync(final, { recursive: true, force: true });
      mkdirSync(dirname(final), { recursive: true });
      renameSync(staged, final);
      return summary;
    });
  } finally {
    rmSync(runDir, { recursive: true, force: true });
    rmSync(buildDir, { recursive: true, force: true });
  }
}

export function formatResult(result: ScenarioResult): string {
  const mark = result.passed ? "pass" : "FAIL";
  const tag = result.required ? "" : " (not required)";
  const client = result.clientSeconds === undefined ? "" : `, client ${result.clientSeconds.toFixed(1)} s`;
  const retried = result.retried ? ", retried after a timeout" : "";
  const head = `${mark} ${result.scenario}${tag}: ${result.counts.SUCCESS} ok, ${result.counts.FAILURE} failed, ${result.counts.WARNING} warnings (${(result.durationMs / 1000).toFixed(1)} s${client}${retried})`;
  return [head, ...result.problems.map((p) => `     ${p}`)].join("\n");
}

/** "0.1.16 auth: 14/14" or "stdio face, 0.1.16 auth: 14/14" (+ the scenarios run but not required). */
export function formatSummary(summary: SuiteResult): string {
  const optional = summary.results.filter((r) => !r.required);
  const extra = optional.length
    ? `; not required: ${optional.filter((r) => r.passed).length}/${optional.length} (${optional.map((r) => `${r.scenario} ${r.passed ? "pass" : "FAIL"}`).join(", ")})`
    : "";
  // The proxy always keeps tokens in its FileTokenStore (MCP_AUTH_DIR); `suite.store` picks the core client's store.
  const face = FACES[summary.client] ? `${FACES[summary.client]}, ` : "";
  const store = summary.client === "core" ? summary.suite.store : "file";
  return `${face}${summary.suite.label}: ${summary.requiredPassed}/${summary.requiredTotal}${extra} (${store} store)`;
}

async function cli(argv: string[]): Promise<number> {
  const versions: string[] = [];
  const scenarios: string[] = [];
  const clients: ClientKind[] = [];
  let concurrency = 3;
  let outDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (arg === "--suite" && value) versions.push(value);
    else if (arg === "--scenario" && value) scenarios.push(value);
    else if (arg === "--client" && isClientKind(value)) clients.push(value);
    else if (arg === "--concurrency" && value) concurrency = Number(value);
    else if (arg === "--out" && value) outDir = resolve(value);
    else {
      console.error(`unknown argument ${arg}`);
      return 2;
    }
    i++;
  }
  const suites = versions.length ? SUITES.filter((s) => versions.includes(s.version)) : SUITES;
  if (suites.length === 0) {
    console.error(`unknown suite; known: ${SUITES.map((s) => s.version).join(", ")}`);
    return 2;
  }
  const started = Date.now();
  const summaries = await runSuites(suites, {
    ...(scenarios.length ? { scenarios } : {}),
    concurrency,
    ...(outDir ? { outDir } : {}),
    ...(clients.length ? { clients } : {}),
    onResult: (suite, result, client) => console.log(`[${client} ${suite.version}] ${formatResult(result)}`),
  });
  for (const summary of summaries) console.log(formatSummary(summary));
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return summaries.every((s) => s.requiredPassed === s.requiredTotal) ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
