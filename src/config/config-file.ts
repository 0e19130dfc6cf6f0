import { readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import { ProxyError } from "../lib/errors.ts";
import { configError, shown } from "./config-error.ts";
import { parseJsonText } from "./config-json.ts";
import { environmentVariables } from "./environment.ts";
import type { UpstreamOptions } from "./options.ts";
import { toUpstreamOptions } from "./resolve-config.ts";
import { isObject, readServerEntry, type ServerEntry } from "./server-entry.ts";

export { SERVER_NAME_PATTERN, type ServerEntry } from "./server-entry.ts";

/**
 * The config file: the format people already have. A root `mcpServers` (Claude Code, Cursor, Claude Desktop,
 * FastMCP, Windsurf, Gemini CLI) or `servers` (VS Code), JSON with comments allowed. Each entry is read by
 * server-entry.ts; docs/config-file.md describes the format.
 */
export interface ConfigFile {
  path: string;
  servers: ConfiguredServer[];
  /** Entries that are not served, and why (stdio commands, disabled entries). */
  skipped: { name: string; reason: string }[];
  /** Things the user should know, one line each (what was ignored, and why). */
  warnings: string[];
}

/**
 * A ServerEntry with its UpstreamOptions already made (toUpstreamOptions without command-line options), for the
 * callers that read `upstream` directly; new code calls toUpstreamOptions(entry, flags).
 */
export interface ConfiguredServer extends ServerEntry {
  upstream: UpstreamOptions;
}

export interface LoadOptions {
  /** Reads the files mcp-remote arguments name (`--header-file`, `@file`); default: the file system. */
  readFile?: (path: string) => string;
}

/** A config file larger than this is not a config file (and is not read into memory). */
const MAX_BYTES = 1024 * 1024;

/** Reads and checks a config file. Throws CONFIG_INVALID (exit 2) naming the file, the server and the key. */
export function loadConfigFile(
  path: string,
  env: NodeJS.ProcessEnv = environmentVariables(),
  options: LoadOptions = {},
): ConfigFile {
  let text: string;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw configError({ path }, "is not a file", "Give --config the path of a JSON file.");
    if (stat.size > MAX_BYTES) throw configError({ path }, `is larger than ${MAX_BYTES / 1024} KiB: not a config file`);
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (error instanceof ProxyError) throw error;
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new ProxyError(
      "CONFIG_INVALID",
      `The config file ${path} ${missing ? "does not exist" : "cannot be read"}.`,
      {
        hint: "Check the path given to --config (or MCP_U2M_PROXY_CONFIG).",
        cause: error,
        details: { file: path },
      },
    );
  }
  return parseConfig(text, path, env, options);
}

/** Checks a config file's text (`path` is where it came from: named in errors, base of relative file names). */
export function parseConfig(
  text: string,
  path: string,
  env: NodeJS.ProcessEnv = environmentVariables(),
  options: LoadOptions = {},
): ConfigFile {
  const json = parseJsonText(text);
  if (!json.ok) {
    throw configError(
      { path },
      `is not valid JSON at line ${json.line}, column ${json.column}: ${json.reason}`,
      `Fix the JSON in ${path} there (a missing comma or quote, usually).`,
    );
  }
  const root = json.value;
  if (!isObject(root)) {
    throw configError({ path }, `must hold a JSON object with "mcpServers" (or VS Code's "servers")`);
  }
  const result: ConfigFile = { path, servers: [], skipped: [], warnings: [] };
  const rootKey = root.mcpServers !== undefined ? "mcpServers" : root.servers !== undefined ? "servers" : undefined;
  if (!rootKey) {
    throw configError(
      { path },
      `has no "mcpServers" (Claude Code, Cursor, Claude Desktop) or "servers" (VS Code) object`,
      `Put the servers under "mcpServers" in ${path}; see docs/config-file.md.`,
    );
  }
  const entries = root[rootKey];
  if (!isObject(entries)) throw configError({ path, key: rootKey }, `must be an object (got ${shown(entries)})`);
  if (rootKey === "mcpServers" && root.servers !== undefined) {
    result.warnings.push(`${basename(path)}: "servers" is ignored: "mcpServers" is read.`);
  }
  const readFile = options.readFile ?? ((file: string) => readFileSync(file, "utf8"));
  const byLowerName = new Map<string, string>();
  for (const [name, raw] of Object.entries(entries)) {
    const reading = readServerEntry(name, raw, { path, env, readFile });
    if (reading.kind === "skipped") {
      result.skipped.push({ name, reason: reading.reason });
      continue;
    }
    // Names become store keys and URL paths: on a case-insensitive file system "Jira" and "jira" would collide.
    const other = byLowerName.get(name.toLowerCase());
    if (other !== undefined) {
      throw configError(
        { path, server: name },
        `has a name that differs from "${other}" only in case`,
        `Rename one of them in ${path}.`,
      );
    }
    byLowerName.set(name.toLowerCase(), name);
    const { entry } = reading;
    if (entry.ignored.length > 0) {
      result.warnings.push(`${basename(path)}: server "${name}": ignored here: ${entry.ignored.join("; ")}.`);
    }
    result.servers.push({ ...entry, upstream: toUpstreamOptions(entry) });
  }
  return result;
}
