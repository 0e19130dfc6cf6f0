/** What is measured on each path, with the SDK client's public API only. Every loop is bounded by a count. */
import type { Client } from "@modelcontextprotocol/client";

const ECHO_TEXT = "hello";

function textOf(result: unknown): string | undefined {
  return ((result as { content?: Array<{ text?: string }> }).content ?? [])[0]?.text;
}

/** One small `echo` tool call; throws when the answer is not the echo. */
export async function echo(client: Client): Promise<void> {
  const result = await client.callTool({ name: "echo", arguments: { text: ECHO_TEXT } });
  if (textOf(result) !== ECHO_TEXT) throw new Error(`echo answered ${JSON.stringify(result).slice(0, 200)}`);
}

/** Up to `count` sequential echo calls, stopping early after `budgetMs`; the latency of each, in ms. */
export async function sequentialLatencies(client: Client, count: number, budgetMs: number): Promise<number[]> {
  const latencies: number[] = [];
  const deadline = performance.now() + budgetMs;
  for (let i = 0; i < count && performance.now() < deadline; i++) {
    const started = performance.now();
    await echo(client);
    latencies.push(performance.now() - started);
  }
  return latencies;
}

/**
 * Sequential echo calls on two clients in turn, the order swapped every pair (A B, B A, …) so neither always goes
 * first: both are measured at the same moments of a shared machine, which a path measured minutes after its baseline
 * is not. Up to `pairs` pairs, stopping early after `budgetMs`; the latency of each call, per client.
 */
export async function pairedLatencies(
  a: Client,
  b: Client,
  pairs: number,
  budgetMs: number,
): Promise<{ a: number[]; b: number[] }> {
  const latencies = { a: [] as number[], b: [] as number[] };
  const timed = async (client: Client, into: number[]) => {
    const started = performance.now();
    await echo(client);
    into.push(performance.now() - started);
  };
  const deadline = performance.now() + budgetMs;
  for (let i = 0; i < pairs && performance.now() < deadline; i++) {
    if (i % 2 === 0) {
      await timed(a, latencies.a);
      await timed(b, latencies.b);
    } else {
      await timed(b, latencies.b);
      await timed(a, latencies.a);
    }
  }
  return latencies;
}

export interface ThroughputRun {
  calls: number;
  perSecond: number;
}

/**
 * Up to `total` echo calls with `inFlight` outstanding at any time; no new call starts after `budgetMs` (so a
 * slow path on a loaded machine still finishes in bounded time).
 */
export async function throughput(
  client: Client,
  total: number,
  inFlight: number,
  budgetMs: number,
): Promise<ThroughputRun> {
  let started = 0;
  const begin = performance.now();
  const deadline = begin + budgetMs;
  const worker = async () => {
    while (started < total && performance.now() < deadline) {
      started++;
      await echo(client);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, worker));
  return { calls: started, perSecond: (started * 1000) / (performance.now() - begin) };
}

/** One `big` tool call returning `bytes` bytes of text; ms until the parsed result is in hand. */
export async function bigResult(client: Client, bytes: number): Promise<number> {
  const started = performance.now();
  const result = await client.callTool({ name: "big", arguments: { bytes } }, { timeout: 120_000 });
  const elapsed = performance.now() - started;
  const length = textOf(result)?.length;
  if (length !== bytes) throw new Error(`big answered ${length} bytes instead of ${bytes}`);
  return elapsed;
}

export interface ProgressRun {
  /** Notifications received per second (from the call to its result). */
  perSecond: number;
  received: number;
  /** Every notification arrived, each with progress = its position (1, 2, 3, …). */
  complete: boolean;
  inOrder: boolean;
}

/** `slow_progress` with `steps` progress notifications and no delay between them. */
export async function progressRun(client: Client, steps: number): Promise<ProgressRun> {
  let received = 0;
  let inOrder = true;
  const started = performance.now();
  const result = await client.callTool(
    { name: "slow_progress", arguments: { steps } },
    {
      timeout: 120_000,
      onprogress: (progress) => {
        received++;
        if (progress.progress !== received) inOrder = false;
      },
    },
  );
  const elapsed = performance.now() - started;
  if (textOf(result) !== `done ${steps}`) throw new Error(`slow_progress answered ${JSON.stringify(result)}`);
  return { perSecond: (received * 1000) / elapsed, received, complete: received === steps, inOrder };
}

/** The p-th percentile (0-100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function median(values: readonly number[]): number {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return Number.NaN;
  const sorted = [...finite].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
