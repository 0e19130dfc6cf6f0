import { basename } from "node:path";
import { ProxyError } from "../lib/errors.ts";

/** Where in a config file a problem is: the file, and the server and key when there is one. */
export interface ConfigPlace {
  /** The file's path (shown by its name in the message, in full in the hint and details). */
  path: string;
  server?: string | undefined;
  /** The key within the server's entry, dotted: `type`, `headers.Authorization`, `mcp-u2m-proxy.oauth.scope`. */
  key?: string | undefined;
}

/**
 * A CONFIG_INVALID error (exit 2) whose message names the file, the server and the key, e.g.
 * `mcp-u2m-proxy.json: server "jira": "type" must be one of http, streamable-http, sse (got "websocket").`
 * `problem` continues the sentence after the key (or after the server, or the file, when there is none). Never put a value
 * that may be a secret (a header, a client secret) in it.
 */
export function configError(place: ConfigPlace, problem: string, hint?: string): ProxyError {
  // "file: server "x": "key" problem", "file: server "x" problem", "file: "key" problem" or "file problem".
  const server = place.server === undefined ? "" : `server ${JSON.stringify(place.server.slice(0, 64))}`;
  const key = place.key === undefined ? "" : `"${place.key}"`;
  const subject = [server, key].filter(Boolean).join(": ");
  const message = subject ? `${basename(place.path)}: ${subject} ${problem}.` : `${basename(place.path)} ${problem}.`;
  return new ProxyError("CONFIG_INVALID", message, {
    hint: hint ?? `Fix it in ${place.path} (the format is in docs/config-file.md).`,
    details: { file: place.path, server: place.server, key: place.key },
  });
}

/** How a wrong value is shown: short strings quoted (the start of long ones), other types by their kind. */
export function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return String(value);
}
