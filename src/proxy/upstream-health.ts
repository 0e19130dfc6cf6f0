import { maskKnownSecrets } from "../lib/known-secrets.ts";
import { type EndpointVerdict, type McpEra, probeEndpoint } from "./endpoint-probe.ts";
import { endpointProblem } from "./endpoint-report.ts";

/** The upstream as /healthz reports it. */
export interface UpstreamHealthReport {
  /** It answered HTTP at all (a 404 answers; connection refused or a timeout does not). */
  reachable: boolean;
  /** It answered as MCP (or asked for a sign-in, which only a protected endpoint does). */
  usable: boolean;
  /** The wire the probe learned, when its answer showed one. */
  era?: McpEra | undefined;
  /** What is wrong, one sentence naming the URL; absent when usable. */
  error?: string | undefined;
  /** ISO time of the probe this report comes from. */
  checkedAt: string;
}

export interface UpstreamHealthOptions {
  url: string;
  headers?: Record<string, string> | undefined;
  /** The access token to probe with (undefined when not signed in: the probe then sees the 401). */
  token?: (() => Promise<string | undefined>) | undefined;
  /** How long a report is reused (default 10 s): /healthz pollers never probe the upstream more often. */
  ttlMs?: number | undefined;
  /** Per probe request (default 5 s). */
  timeoutMs?: number | undefined;
  probe?: typeof probeEndpoint | undefined;
  now?: () => number;
}

/**
 * The upstream's reachability for /healthz: the same probe as `auth` and `serve` start (so a URL that answers 404
 * or an HTML page is not reported healthy, which a bare GET/HEAD could not tell), run at most once per `ttlMs`
 * however often /healthz is asked, and one at a time.
 */
export class UpstreamHealth {
  private cached: { at: number; report: UpstreamHealthReport } | undefined;
  private running: Promise<UpstreamHealthReport> | undefined;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: UpstreamHealthOptions) {
    this.ttlMs = options.ttlMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** The last report if recent, else a new probe (joined by concurrent callers). */
  current(): Promise<UpstreamHealthReport> {
    if (this.cached && this.now() - this.cached.at < this.ttlMs) return Promise.resolve(this.cached.report);
    this.running ??= this.check().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Probes now (no cache), keeps and returns the verdict. */
  async probe(): Promise<EndpointVerdict> {
    const token = await this.options.token?.().catch(() => undefined);
    const verdict = await (this.options.probe ?? probeEndpoint)(this.options.url, {
      token,
      headers: this.options.headers,
      timeoutMs: this.options.timeoutMs ?? 5_000,
    });
    this.record(verdict);
    return verdict;
  }

  /** Keeps a verdict learned elsewhere (the start-up check) as the current report. */
  record(verdict: EndpointVerdict): UpstreamHealthReport {
    const report = toReport(this.options.url, verdict, new Date(this.now()).toISOString());
    this.cached = { at: this.now(), report };
    return report;
  }

  /** Forgets the report (e.g. after a sign-in: the probe without a token learned no era). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async check(): Promise<UpstreamHealthReport> {
    await this.probe();
    return (this.cached as { report: UpstreamHealthReport }).report;
  }
}

export function toReport(url: string, verdict: EndpointVerdict, checkedAt: string): UpstreamHealthReport {
  // /healthz is JSON, not a log line: mask here what the logger would (the text quotes what the server said).
  const problem = endpointProblem(url, verdict);
  const error = problem === undefined ? undefined : maskKnownSecrets(problem);
  return {
    reachable: verdict.kind !== "unreachable",
    usable: error === undefined,
    ...(verdict.kind === "mcp" && verdict.era ? { era: verdict.era } : {}),
    ...(error ? { error } : {}),
    checkedAt,
  };
}
