// The catch-all relay of other upstream paths, apart because its deny-list normalisation is a security check.
import type { HttpRelay } from "../proxy/http-relay.ts";
import { writeJsonError } from "./json-response.ts";
import type { Router } from "./router.ts";

/**
 * Discovery documents the generic relay never serves: a client that found the upstream's OAuth metadata through
 * the proxy would try to sign in itself and send its own token, which the proxy drops.
 */
const NOT_RELAYED =
  /^\/(?:\.well-known\/(?:oauth-protected-resource|oauth-authorization-server|openid-configuration)|favicon\.ico$)/;

/** Registers the generic authenticated relay as `router`'s fallback (every path no route claims). */
export function addGenericRelay(router: Router, relay: HttpRelay): void {
  router.fallback("relay", (req, res, { path, query }) => {
    if (relay.hidesTools) {
      // Any path of the upstream may be its MCP endpoint (or a legacy message endpoint): relayed as bytes, it would
      // reach the tools the proxy hides.
      return writeJsonError(
        res,
        404,
        "Not found: the catch-all relay is off for a server whose tools the proxy hides (--ignore-tool). MCP clients connect to /mcp or /sse.",
      );
    }
    // Checked and sent in the form the upstream will resolve it to: "/x/../.well-known/…" is the document itself.
    const normalised = normaliseRelayPath(path);
    if (normalised === undefined || NOT_RELAYED.test(deniedForm(normalised))) {
      return writeJsonError(res, 404, "Not found.");
    }
    return relay.relay(req, res, { kind: "generic", path: query ? `${normalised}?${query}` : normalised });
  });
}

/**
 * The path with dot segments (also percent-encoded ones and backslashes) resolved the way URL parsers and servers
 * resolve them; undefined when it cannot be parsed.
 */
export function normaliseRelayPath(path: string): string | undefined {
  try {
    return new URL(path, "http://relay.invalid").pathname;
  } catch {
    return undefined;
  }
}

/** The form the deny list is matched on: percent-decoded, repeated slashes collapsed, lower case. */
function deniedForm(path: string): string {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // Malformed escapes: match the raw form (the upstream cannot decode them either).
  }
  const collapsed = decoded.replace(/[/\\]+/g, "/").toLowerCase();
  return normaliseRelayPath(collapsed) ?? collapsed;
}
