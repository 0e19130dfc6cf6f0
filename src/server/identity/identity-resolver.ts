import type { IncomingMessage } from "node:http";
import type { Caller } from "./caller.ts";

/** A request the gate refuses: 403 with a message that says what was missing or wrong. */
export interface IdentityRefusal {
  readonly refused: string;
}

/** One `--identity` mode: who a request comes from, and which headers carry it (never forwarded, stored or logged). */
export interface IdentityResolver {
  readonly mode: string;
  /** Request headers (lower case) that carry the identity or the platform's credentials: removed before relaying. */
  readonly identityHeaders: readonly string[];
  /** Whether X-Forwarded-Host/-Proto come from a front this mode trusts (they are ignored otherwise). */
  readonly trustsForwardedHost: boolean;
  resolve(req: IncomingMessage): Promise<Caller | IdentityRefusal>;
}

export function isRefusal(value: Caller | IdentityRefusal): value is IdentityRefusal {
  return "refused" in value;
}

/** A header's single value: absent, empty, repeated or with control characters counts as none. */
export function singleHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused here
  if (trimmed === "" || trimmed.length > 1024 || /[\u0000-\u001f\u007f]/.test(trimmed)) return undefined;
  return trimmed;
}
