/**
 * Summarises V8 CPU profiles (`node --cpu-prof`, or `npm run bench -- --profile`): self time by function and by
 * package/file, so a hot path can be named without opening DevTools.
 *
 *   tsx bench/profile-summary.ts <file.cpuprofile | directory> [--top N] [--match TEXT]
 *
 * With a directory, every profile in it is summarised in turn. `--match` keeps only profiles whose main script
 * (the first frame's URL) contains TEXT, e.g. `--match mcp-remote`.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Where a frame's code lives: "pkg:<name>" for node_modules, "node:<module>" for Node internals, else the path. */
function placeOf(url: string): string {
  if (!url) return "(native / GC / idle)";
  const modules = url.lastIndexOf("/node_modules/");
  if (modules !== -1) {
    const rest = url.slice(modules + "/node_modules/".length).split("/");
    const name = rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
    return `pkg:${name}`;
  }
  if (url.startsWith("node:")) return url;
  const dist = url.indexOf("/dist/");
  return dist !== -1 ? url.slice(dist + 1) : url.replace(/^file:\/\//, "");
}

export function summarizeProfile(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // Sample time per node from samples/timeDeltas (µs), falling back to hit counts.
  const selfUs = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    for (let i = 0; i < profile.samples.length; i++) {
      const id = profile.samples[i] as number;
      selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0));
    }
  } else {
    const total = profile.endTime - profile.startTime;
    const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0) || 1;
    for (const node of profile.nodes) selfUs.set(node.id, ((node.hitCount ?? 0) * total) / hits);
  }
  const functions = new Map<string, number>();
  const places = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)" || functionName === "(program)") continue;
    total += us;
    const place = placeOf(url);
    const key = `${functionName || "(anonymous)"} ${place}${url ? `:${lineNumber + 1}` : ""}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
    places.set(place, (places.get(place) ?? 0) + us);
  }
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([name, us]) =>
          `  ${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`,
      );
  return [
    `busy ${(total / 1000).toFixed(0)} ms of ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms profiled`,
    "by package / file (self time):",
    ...rows(places),
    "by function (self time):",
    ...rows(functions),
  ].join("\n");
}

function mainScriptOf(profile: CpuProfile): string {
  const urls = profile.nodes.map((node) => node.callFrame.url).filter((url) => url.startsWith("file://"));
  return urls[0] ?? "?";
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: "string" }, match: { type: "string" } },
  });
  const top = Number(values.top ?? 25);
  const target = positionals[0];
  if (!target) {
    console.error("usage: tsx bench/profile-summary.ts <file.cpuprofile | directory> [--top N] [--match TEXT]");
    process.exit(2);
  }
  const files = statSync(target).isDirectory()
    ? readdirSync(target)
        .filter((name) => name.endsWith(".cpuprofile"))
        .map((name) => join(target, name))
    : [target];
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
    const script = mainScriptOf(profile);
    if (values.match && !profile.nodes.some((node) => node.callFrame.url.includes(values.match as string))) continue;
    console.log(`\n== ${file} (${script})\n${summarizeProfile(profile, top)}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
