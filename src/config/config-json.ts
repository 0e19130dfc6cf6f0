/**
 * JSON as MCP hosts' config files hold it: VS Code's `mcp.json` and Cursor's are JSON with comments (`//`,
 * `/* … *\/`) and trailing commas. Those are blanked out (same length, newlines kept) before JSON.parse, so the
 * position of an error is the same in the file the user sees.
 */
export type JsonText = { ok: true; value: unknown } | { ok: false; line: number; column: number; reason: string };

export function parseJsonText(text: string): JsonText {
  const plain = blankCommentsAndTrailingCommas(text.replace(/^\uFEFF/, " "));
  try {
    return { ok: true, value: JSON.parse(plain) };
  } catch (error) {
    const message = error instanceof Error ? error.message : "";
    const { line, column } = position(plain, message);
    return { ok: false, line, column, reason: reasonOf(message) };
  }
}

/** Line and column (1-based) of JSON.parse's error: Node 20 gives an offset, Node 22 a line and column. */
function position(text: string, message: string): { line: number; column: number } {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const at = /position (\d+)/.exec(message);
  const offset = at ? Number(at[1]) : /end of JSON input/.test(message) ? text.trimEnd().length : firstBadOffset(text);
  const before = text.slice(0, offset);
  return { line: before.split("\n").length, column: offset - before.lastIndexOf("\n") };
}

/**
 * Where JSON.parse fails when its message gives no position (Node 20's "Unexpected token 'x', … is not valid
 * JSON"): the shortest prefix that fails before its own end ends just after the offending character.
 */
function firstBadOffset(text: string): number {
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (failsOnlyAtEnd(text.slice(0, mid))) low = mid + 1;
    else high = mid;
  }
  return Math.max(0, low - 1);
}

function failsOnlyAtEnd(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return true;
  } catch (error) {
    const message = error instanceof Error ? error.message : "";
    if (/end of JSON input/.test(message)) return true;
    const at = /position (\d+)/.exec(message);
    return at !== null && Number(at[1]) >= prefix.length;
  }
}

/** JSON.parse's reason without its position and without a quote of the text (it may hold a secret). */
function reasonOf(message: string): string {
  if (/end of JSON input/i.test(message)) return "it ends too early";
  if (/Expected ',' or '[}\]]'/.test(message)) return "a comma or a closing bracket is missing";
  if (/Expected ':'/.test(message)) return "a colon is missing after a key";
  if (/double-quoted property name/i.test(message)) return "a key must be in double quotes";
  if (/Bad control character/i.test(message)) return "a string has a raw line break or control character";
  if (/Unterminated string/i.test(message)) return "a string is not closed";
  return "unexpected character";
}

function blankCommentsAndTrailingCommas(text: string): string {
  const out = text.split("");
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n" && out[k] !== "\r") out[k] = " ";
  };
  let lastComma = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      lastComma = -1;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
    } else if (c === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      blank(i, end === -1 ? text.length : end);
      i = end === -1 ? text.length : end;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      blank(i, end === -1 ? text.length : end + 2);
      i = end === -1 ? text.length : end + 1;
    } else if (c === ",") {
      lastComma = i;
    } else if ((c === "}" || c === "]") && lastComma !== -1) {
      out[lastComma] = " ";
      lastComma = -1;
    } else if (c !== undefined && !/\s/.test(c)) {
      lastComma = -1;
    }
  }
  return out.join("");
}
