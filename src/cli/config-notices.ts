import { basename } from "node:path";
import type { ConfigFile } from "../config/config-file.ts";

/**
 * What the config file says the user should know, one line each: what was read but ignored (unknown keys, other
 * hosts' options) and the entries that are not served, with why (stdio commands, disabled entries). Commands print
 * them on stderr with `printConfigNotices`, or put them in their JSON as "warnings", so stdout stays parseable.
 */
export function configNotices(config: ConfigFile | undefined): string[] {
  if (!config) return [];
  const file = basename(config.path);
  return [
    ...config.warnings,
    ...config.skipped.map((entry) => `${file}: server "${entry.name}" is not served: ${entry.reason}.`),
  ];
}

/** Each notice as a warning line on `err` (stderr). */
export function printConfigNotices(notices: readonly string[], err: (text: string) => void): void {
  for (const notice of notices) err(`mcp-u2m-proxy: warning: ${notice}`);
}
