/**
 * Variables in config strings, in the forms MCP hosts write them: `${VAR}` and `${VAR:-default}` (Claude Code) and
 * `${env:VAR}` (VS Code, Cursor; `${env:VAR:-default}` too).
 *
 * Rules:
 * - A variable that is unset or empty, without a default, is an error naming it: a silently empty header would
 *   send a broken credential upstream.
 * - `${VAR:-default}` uses the default when VAR is unset or empty (as the shell does). The default may itself hold
 *   references (`${A:-${B}}`); it is literal otherwise.
 * - `$${` is a literal `${` (the one escape). Any other `$` is literal: `$VAR` and `$$` are never expanded, so a
 *   value with a `$` in it (a password) needs no escaping unless it contains `${`.
 * - `${` that does not start a reference (`${input:token}` from VS Code, `${1}`, an unclosed `${`) is an error
 *   rather than text sent upstream as is.
 */
export class VariableError extends Error {
  constructor(
    readonly kind: "unset" | "prompt" | "malformed",
    /** The variable's name, or the text after `${` for a malformed reference (never a value). */
    readonly variable: string,
  ) {
    super(
      kind === "unset"
        ? `\${${variable}} is not set`
        : kind === "prompt"
          ? `\${${variable}} is a VS Code input prompt, which this proxy cannot show`
          : `"\${${variable}" is not a variable reference`,
    );
  }
}

/** Where values come from: an environment object, or a lookup (to layer an entry's own `env` over it). */
export type VariableSource = NodeJS.ProcessEnv | ((name: string) => string | undefined);

const NAME = /^(?:env:)?([A-Za-z_][A-Za-z0-9_]*)$/;
/** Bounds the nesting of defaults (`${A:-${B:-${C}}}`); deeper is not a config anyone writes. */
const MAX_DEPTH = 8;

/** Expands every reference in `text`; throws a VariableError for an unset, prompted or malformed one. */
export function expandVariables(text: string, source: VariableSource, depth = 0): string {
  if (!text.includes("${")) return text;
  const lookup = typeof source === "function" ? source : (name: string) => source[name];
  let out = "";
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf("${", i);
    if (at === -1) {
      out += text.slice(i);
      break;
    }
    if (at > 0 && text[at - 1] === "$") {
      out += `${text.slice(i, at - 1)}\${`; // `$${`: the `$` before escapes this one
      i = at + 2;
      continue;
    }
    out += text.slice(i, at);
    const end = closingBrace(text, at + 2);
    const body = end === -1 ? "" : text.slice(at + 2, end);
    if (end === -1 || depth >= MAX_DEPTH) throw new VariableError("malformed", text.slice(at + 2, at + 42));
    out += expandReference(body, source, lookup, depth);
    i = end + 1;
  }
  return out;
}

function expandReference(
  body: string,
  source: VariableSource,
  lookup: (name: string) => string | undefined,
  depth: number,
): string {
  const split = body.indexOf(":-");
  const head = split === -1 ? body : body.slice(0, split);
  const match = NAME.exec(head);
  if (!match) {
    if (/^input:/.test(head)) throw new VariableError("prompt", head);
    throw new VariableError("malformed", body.slice(0, 40));
  }
  const name = match[1] as string;
  const value = lookup(name);
  if (value !== undefined && value !== "") return value;
  if (split !== -1) return expandVariables(body.slice(split + 2), source, depth + 1);
  throw new VariableError("unset", name);
}

/** The index of the `}` closing a reference whose body starts at `from` (nested `${…}` allowed), or -1. */
function closingBrace(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "{") {
      depth++;
      i++;
    } else if (text[i] === "}") {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}
