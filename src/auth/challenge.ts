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

const PARAM = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;

export function parseChallenge(header: string | null | undefined): ChallengeParams {
  if (!header) return {};
  const match = /^\s*(Bearer|DPoP)\b(.*)$/i.exec(header) ?? /(?:^|,)\s*(Bearer|DPoP)\b(.*)$/i.exec(header);
  if (!match) return {};
  const result: ChallengeParams = { scheme: match[1]!.toLowerCase() };
  for (const param of (match[2] ?? "").matchAll(PARAM)) {
    const value = param[2] !== undefined ? param[2].replace(/\\(.)/g, "$1") : (param[3] ?? "");
    switch (param[1]!.toLowerCase()) {
      case "resource_metadata":
        result.resourceMetadataUrl = value;
        break;
      case "scope":
        result.scope = value;
        break;
      case "error":
        result.error = value;
        break;
      case "error_description":
        result.errorDescription = value;
        break;
    }
  }
  return result;
}
