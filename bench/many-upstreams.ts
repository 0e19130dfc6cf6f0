/**
 * The many-upstreams case (issue 7): `serve --config FILE` with ten configured servers, of which the client uses
 * one. The measured entry points at the main upstream (the one the single-upstream paths use), so its per-call
 * numbers compare with the HTTP face's `/mcp` path; the other nine point at servers of their own, so each entry
 * has a distinct URL and therefore its own auth core, connection pool, store key and start-up probe, as ten real
 * servers would. The measured entry is the last one: routing by name has the most entries to pass over.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export const MANY_UPSTREAMS = 10;

export interface ManyUpstreamsConfig {
  /** The config file's JSON (the `mcpServers` layout MCP hosts use). */
  json: { mcpServers: Record<string, { url: string }> };
  /** The name of the entry the client calls (`/servers/<name>/mcp`). */
  measured: string;
}

/** Entries `s01`…`s10`: the nine `others` first, then the measured one for `mainUrl`. */
export function manyUpstreamsConfig(mainUrl: string, others: readonly string[]): ManyUpstreamsConfig {
  if (others.length !== MANY_UPSTREAMS - 1) {
    throw new Error(`the many-upstreams case needs ${MANY_UPSTREAMS - 1} other servers, got ${others.length}`);
  }
  const urls = [...others, mainUrl];
  const name = (index: number) => `s${String(index + 1).padStart(2, "0")}`;
  const mcpServers = Object.fromEntries(urls.map((url, index) => [name(index), { url }]));
  return { json: { mcpServers }, measured: name(urls.length - 1) };
}

/** Writes the config file into `dir`; returns its path and the measured entry's name. */
export function writeManyUpstreamsConfig(
  dir: string,
  mainUrl: string,
  others: readonly string[],
): { file: string; measured: string } {
  const config = manyUpstreamsConfig(mainUrl, others);
  const file = join(dir, "many-upstreams.json");
  writeFileSync(file, `${JSON.stringify(config.json, null, 2)}\n`, { mode: 0o600 });
  return { file, measured: config.measured };
}
