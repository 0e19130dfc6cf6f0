import { isAdmin } from "./caller.ts";
import type { IdentityResolver } from "./identity-resolver.ts";
import { singleHeader } from "./identity-resolver.ts";

/**
 * `--identity header:NAME`: a trusted front (oauth2-proxy's X-Auth-Request-Email, Pomerium, a gateway) names the
 * user in NAME. Anyone who reaches the port could set that header, so it is believed only on a request that also
 * carries the inbound secret the front shares (`hasKey`, checked here before the header is read).
 */
export function headerIdentity(
  header: string,
  admins: readonly string[],
  hasKey: (req: Parameters<IdentityResolver["resolve"]>[0]) => boolean,
): IdentityResolver {
  return {
    mode: `header:${header}`,
    identityHeaders: [header],
    trustsForwardedHost: true,
    resolve: async (req) => {
      if (!hasKey(req)) {
        return {
          refused: `This proxy takes the user from the ${header} header only on requests carrying its API key (the secret shared with the front); this one has none or a wrong one.`,
        };
      }
      const id = singleHeader(req, header);
      if (id === undefined) {
        return {
          refused: `The request has no ${header} header naming the user; the front in front of this proxy sets it.`,
        };
      }
      const email = id.includes("@") ? id : undefined;
      return { id, principal: `header:${id}`, label: id, email, admin: isAdmin(admins, { id, email }) };
    },
  };
}
