/**
 * Parses a `WWW-Authenticate` challenge (RFC 6750 §3, RFC 9728 §5.1): the Bearer (or DPoP) parameters the
 * MCP authorization spec uses: `resource_metadata`, `scope`, `error`, `error_description`.
 */
export interface ChallengeParams {
  scheme?: string;
  resourceMetadataUrl?: string;
  scope?: string;
  error?: string;
  errorDescription?: string;
}

interface Challenge {
  scheme: string;
  params: Map<string, string>;
}

/** RFC 9110 §5.6.2 token characters. */
const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
/** RFC 9110 §11.2 token68, when it is the whole of a challenge's credentials. */
const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(?:,|$))/y;
const SPACE = /[ \t]*/y;

/**
 * The Bearer challenge's parameters (DPoP's when there is no Bearer challenge), from a header that may hold several
 * challenges: fetch joins repeated `WWW-Authenticate` headers with ", ", so `Basic realm="x", Bearer scope="y"` is
 * two challenges, and the parameters of one never leak into another (RFC 9110 §11.6.1). Never throws.
 */
export function parseChallenge(header: string | null | undefined): ChallengeParams {
  if (!header) return {};
  const challenges = parseChallenges(header);
  const chosen =
    challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "dpop") ?? undefined;
  if (!chosen) return {};
  const result: ChallengeParams = { scheme: chosen.scheme };
  const { params } = chosen;
  const resourceMetadata = params.get("resource_metadata");
  if (resourceMetadata !== undefined) result.resourceMetadataUrl = resourceMetadata;
  const scope = params.get("scope");
  if (scope !== undefined) result.scope = scope;
  const error = params.get("error");
  if (error !== undefined) result.error = error;
  const description = params.get("error_description");
  if (description !== undefined) result.errorDescription = description;
  return result;
}

/** RFC 9110 §11.6.1: `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`, comma separated. */
function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  let i = 0;
  const skip = (pattern: RegExp) => {
    pattern.lastIndex = i;
    const match = pattern.exec(header);
    if (match) i += match[0].length;
    return match?.[0];
  };

  while (i < header.length) {
    skip(SPACE);
    if (header[i] === ",") {
      i++;
      continue;
    }
    const name = skip(TOKEN);
    if (!name) {
      i++; // malformed: skip a character and resynchronise
      continue;
    }
    skip(SPACE);
    if (header[i] === "=") {
      // auth-param: token BWS "=" BWS ( token / quoted-string ). Read (and drop) it even outside a challenge, so a
      // quoted value is never taken apart into schemes and parameters.
      i++;
      skip(SPACE);
      const value = header[i] === '"' ? readQuoted() : skip(TOKEN);
      const key = name.toLowerCase();
      if (current && value !== undefined && !current.params.has(key)) current.params.set(key, value);
      continue;
    }
    // A token not followed by "=" starts a new challenge.
    current = { scheme: name.toLowerCase(), params: new Map() };
    challenges.push(current);
    if (skip(TOKEN68)) current = undefined; // its credentials are a token68: no parameters follow
  }
  return challenges;

  function readQuoted(): string {
    let value = "";
    i++; // opening quote
    while (i < header.length && header[i] !== '"') {
      if (header[i] === "\\" && i + 1 < header.length) i++;
      value += header[i];
      i++;
    }
    i++; // closing quote (or past the end when unterminated)
    return value;
  }
}
