import type { JSONRPCMessage } from "@modelcontextprotocol/client";

/**
 * The JSON text a parsed upstream response came from, so that a face which passes the response on unchanged writes
 * that text instead of serialising the object again (a 5 MB result is then parsed once and never re-stringified).
 * Keyed by the object: whoever changes a message builds a new object (as the bridges do), which has no raw text.
 * Only responses are recorded, and only when the text is one line (a client reads newline-delimited messages).
 */
const rawTexts = new WeakMap<object, string>();

/** Records `text` as the source of `message`, which must be what `JSON.parse(text)` returned, unmodified. */
export function rememberRawJson(message: JSONRPCMessage, text: string): void {
  if ("method" in message || text.indexOf("\n") !== -1 || text.indexOf("\r") !== -1) return;
  rawTexts.set(message, text);
}

/** The JSON text of `message`: the upstream's own when recorded, else `JSON.stringify(message)`. */
export function jsonTextOf(message: JSONRPCMessage): string {
  return rawTexts.get(message) ?? JSON.stringify(message);
}
