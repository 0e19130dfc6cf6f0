// The benchmark's many-upstreams case (issue 7): the config file it writes is one the proxy reads as ten distinct
// upstreams (ten store keys, the measured one last and on the main upstream), and its two targets pass and miss
// at their limits. No timing is measured here: the summaries are made up.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { MANY_UPSTREAMS, manyUpstreamsConfig, writeManyUpstreamsConfig } from "../../bench/many-upstreams.ts";
import {
  evaluateManyUpstreams,
  MANY_UPSTREAMS_P50_LIMIT,
  MANY_UPSTREAMS_RSS_LIMIT_MIB,
  type PathSummary,
} from "../../bench/report.ts";
import { loadConfigFile } from "../../src/config/config-file.ts";
import { storeKey } from "../../src/store/store-key.ts";

const dir = mkdtempSync(join(tmpdir(), "bench-many-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const MAIN = "http://127.0.0.1:40000/mcp";
const OTHERS = Array.from({ length: MANY_UPSTREAMS - 1 }, (_, i) => `http://127.0.0.1:${40001 + i}/mcp`);

test("the bench's config file is read by the proxy as ten upstreams, the measured one last and on the main URL", () => {
  const { file, measured } = writeManyUpstreamsConfig(dir, MAIN, OTHERS);
  const config = loadConfigFile(file, {});
  assert.equal(config.servers.length, MANY_UPSTREAMS);
  assert.deepEqual(config.skipped, []);
  assert.deepEqual(config.warnings, []);
  assert.equal(config.servers.at(-1)?.name, measured);
  assert.equal(config.servers.at(-1)?.upstream.url, MAIN);
  const keys = new Set(config.servers.map((server) => storeKey(server.upstream.url)));
  assert.equal(keys.size, MANY_UPSTREAMS, "each entry has its own sign-in");
});

test("the many-upstreams config refuses a wrong number of other servers", () => {
  assert.throws(() => manyUpstreamsConfig(MAIN, OTHERS.slice(1)), /needs 9 other servers, got 8/);
});

function summary(id: PathSummary["id"], p50: number, idleRssMiB: number | undefined): PathSummary {
  return {
    id,
    label: id,
    baseline: "direct",
    peer: id === "http-10" ? "http" : undefined,
    face: id === "direct" ? "direct" : "http",
    rounds: 2,
    startMs: 400,
    startRequests: { mcp: 4, discovery: 0 },
    idleRssMiB,
    p50,
    p90: p50,
    p95: p50,
    p99: p50,
    cps16: 500,
    cps64: 500,
    upstreamCpuMsPerCall: 1,
    clientCpuMsPerCall: 1,
    bigMs: 100,
    progressPerSecond: 1000,
    progressMinReceived: 10,
    progressAllInOrder: true,
    idleRssRoundsMiB: idleRssMiB === undefined ? [] : [idleRssMiB],
    errors: [],
  };
}

function evaluate(manyP50: number, manyRss: number | undefined) {
  const summaries = new Map(
    [summary("direct", 2, undefined), summary("http", 4, 70), summary("http-10", manyP50, manyRss)].map((s) => [
      s.id,
      s,
    ]),
  );
  const [p50, rss] = evaluateManyUpstreams(summaries);
  return { p50: p50?.pass, rss: rss?.pass, rssText: rss?.measured };
}

test("issue 7 targets: p50 at most 1.10× the one-upstream face's, idle RSS at most 5 MB (4.77 MiB) more", () => {
  assert.equal(MANY_UPSTREAMS_P50_LIMIT, 1.1);
  assert.ok(Math.abs(MANY_UPSTREAMS_RSS_LIMIT_MIB - 4.768) < 0.001);
  assert.deepEqual(evaluate(4.36, 70 + 4.7).p50, true);
  assert.equal(evaluate(4.36, 70 + 4.7).rss, true);
  assert.equal(evaluate(4 * 1.11, 70).p50, false);
  assert.equal(evaluate(4, 70 + 4.8).rss, false, "5 MiB is more than 5 MB");
  assert.equal(evaluate(4, 60).rss, true, "less memory passes");
  assert.match(evaluate(4, 72.5).rssText ?? "", /^\+2\.5 MiB \(72\.5 vs 70\.0 MiB\)/);
  assert.equal(evaluate(4, undefined).rss, undefined, "not measured is neither PASS nor MISS");
});

test("without the many-upstreams path or its one-upstream peer there are no issue 7 targets", () => {
  const only = new Map([["http", summary("http", 4, 70)]] as const);
  assert.deepEqual(evaluateManyUpstreams(only), []);
  const lonely = new Map([["http-10", summary("http-10", 4, 70)]] as const);
  assert.deepEqual(evaluateManyUpstreams(lonely), []);
});
