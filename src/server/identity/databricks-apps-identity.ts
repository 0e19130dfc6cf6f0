import type { IdentityMode } from "../../config/identity-options.ts";
import { isAdmin } from "./caller.ts";
import type { IdentityResolver } from "./identity-resolver.ts";
import { singleHeader } from "./identity-resolver.ts";

/**
 * Headers the Databricks Apps proxy adds. X-Forwarded-User is the IdP's stable user id; e-mail and user name are
 * for display only. X-Forwarded-Access-Token is the user's own Databricks token (on-behalf-of authorization):
 * never forwarded, stored or logged.
 * @see https://docs.databricks.com/aws/dev-tools/databricks-apps/http-headers
 */
export const DATABRICKS_APPS_HEADERS = [
  "x-forwarded-user",
  "x-forwarded-email",
  "x-forwarded-preferred-username",
  "x-forwarded-access-token",
  "x-real-ip",
  "x-request-id",
] as const;

/** `--identity databricks-apps`: the user is the opaque X-Forwarded-User; a request without it is refused. */
export function databricksAppsIdentity(admins: readonly string[]): IdentityResolver {
  const mode: IdentityMode["kind"] = "databricks-apps";
  return {
    mode,
    identityHeaders: [...DATABRICKS_APPS_HEADERS],
    trustsForwardedHost: true,
    resolve: async (req) => {
      const id = singleHeader(req, "x-forwarded-user");
      if (id === undefined) {
        return {
          refused:
            "This proxy runs with --identity databricks-apps and the request has no X-Forwarded-User header: only requests through the Databricks Apps proxy (signed in to the workspace) are served. Use the app's URL, not its port.",
        };
      }
      const email = singleHeader(req, "x-forwarded-email");
      const username = singleHeader(req, "x-forwarded-preferred-username");
      return {
        id,
        principal: `${mode}:${id}`,
        label: email ?? username ?? id,
        email,
        username,
        admin: isAdmin(admins, { id, email, username }),
      };
    },
  };
}
