// The benchmark's in-turn p50 (a path and its direct baseline called alternately): the order swaps every pair, the
// summary is the median of each round's ratio, and the p50 targets are judged on it when it was measured. No timing
// is measured here: the clients answer at once and the round results are made up.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Client } from "@modelcontextprotocol/client";
import type { PathDef, PathId } from "../../bench/paths.ts";
import { evaluateUpstreamTransport, type PathSummary, type RoundResult, summarize } from "../../bench/report.ts";
import { pairedLatencies } from "../../bench/workloads.ts";

function echoClient(name: string, calls: string[]): Client {
  return {
    callTool: async (request: { arguments: { text: string } }) => {
      calls.push(name);
      return { content: [{ type: "text", text: request.arguments.text }] };
    },
  } as unknown as Client;
}

test("paired latencies call the two clients in turn, swapping which goes first every pair", async () => {
  const calls: string[] = [];
  const turns = await pairedLatencies(echoClient("a", calls), echoClient("b", calls), 3, 60_000);
  assert.deepEqual(calls, ["a", "b", "b", "a", "a", "b"]);
  assert.equal(turns.a.length, 3);
  assert.equal(turns.b.length, 3);
  assert.ok([...turns.a, ...turns.b].every((ms) => ms >= 0));
});

test("paired latencies stop at the budget, with as many calls on each side", async () => {
  const calls: string[] = [];
  const turns = await pairedLatencies(echoClient("a", calls), echoClient("b", calls), 1_000, 0);
  assert.deepEqual(calls, []);
  assert.deepEqual(turns, { a: [], b: [] });
});

function round(path: PathId, p50: number, paired?: RoundResult["paired"]): RoundResult {
  return {
    round: 0,
    path,
    startMs: 400,
    startRequests: { mcp: 1, discovery: 0 },
    p50,
    p90: p50,
    p95: p50,
    p99: p50,
    cps16: 500,
    cps64: 500,
    upstreamCpuMsPerCall: 1,
    clientCpuMsPerCall: 1,
    bigMs: 100,
    progress: { received: 10, complete: true, inOrder: true, perSecond: 1000 },
    paired,
  };
}

function path(id: PathId, baseline: PathId): PathDef {
  return {
    id,
    label: id,
    baseline,
    face: id === baseline ? "direct" : "bridge",
    open: () => Promise.reject(new Error("not opened here")),
  };
}

function eraVerdict(era: RoundResult[]): { pass: boolean | undefined; measured: string } {
  const summaries = new Map<PathId, PathSummary>([
    ["direct-2026", summarize(path("direct-2026", "direct-2026"), [round("direct-2026", 2)], [])],
    ["http-era", summarize(path("http-era", "direct-2026"), era, [])],
  ]);
  const [target] = evaluateUpstreamTransport(summaries, 5_000_000);
  assert.equal(target?.path, "http-era");
  return { pass: target?.pass, measured: target?.measured ?? "" };
}

test("the in-turn ratio is the median of each round's ratio, not a ratio of medians", () => {
  const summary = summarize(
    path("http-era", "direct-2026"),
    [
      round("http-era", 5, { p50: 3, baselineP50: 2, pairs: 200 }),
      round("http-era", 5, { p50: 8, baselineP50: 4, pairs: 200 }),
      round("http-era", 5, { p50: 2.6, baselineP50: 2, pairs: 200 }),
    ],
    [],
  );
  assert.deepEqual(summary.paired, { ratio: 1.5, p50: 3, baselineP50: 2 });
});

test("the era bridge's p50 target is judged in turn when measured, and apart otherwise", () => {
  // Apart 2.5× (a baseline measured at a quiet moment), in turn 1.4×: passes, both shown.
  const inTurn = eraVerdict([round("http-era", 5, { p50: 2.8, baselineP50: 2, pairs: 200 })]);
  assert.equal(inTurn.pass, true);
  assert.match(inTurn.measured, /^1\.40× in turn \(2\.80 vs 2\.00 ms, direct-2026\); measured apart 2\.50×/);
  // Apart 1.2×, in turn 1.6×: misses.
  assert.equal(eraVerdict([round("http-era", 2.4, { p50: 3.2, baselineP50: 2, pairs: 200 })]).pass, false);
  // Not paired (no calls in the budget, or an older result): the apart ratio decides.
  assert.equal(eraVerdict([round("http-era", 2.8, { p50: 0, baselineP50: 0, pairs: 0 })]).pass, true);
  assert.equal(eraVerdict([round("http-era", 3.2)]).pass, false);
  assert.match(eraVerdict([round("http-era", 3.2)]).measured, /^1\.60× \(3\.20 vs 2\.00 ms, direct-2026\)$/);
});
