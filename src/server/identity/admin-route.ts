import type { RequestListener } from "node:http";
import { describeError } from "../../lib/errors.ts";
import { type Logger, silentLogger } from "../../lib/logger.ts";
import { readBody } from "../../proxy/read-body.ts";
import { writeJson, writeJsonError } from "../json-response.ts";
import type { RequestGuard } from "../request-guard.ts";
import type { RoutedUpstream } from "../upstream-router.ts";
import { currentCaller } from "./caller.ts";
import { PerUserAuth } from "./per-user-auth.ts";

/**
 * `/admin/users` for the users named by `--admin`: GET lists every user with state, per upstream (those this process has seen and those with a grant in the store), with
 * their sign-in state (never a token); POST `{"server": NAME, "user": HASH}` (JSON, so no cross-site form can
 * send it) revokes and deletes that user's grant for that upstream. Anyone else gets 403.
 */
export function createAdminRoute(options: {
  upstreams: () => readonly RoutedUpstream[];
  guard: RequestGuard;
  logger?: Logger | undefined;
}): RequestListener {
  const logger = options.logger ?? silentLogger;
  const { guard } = options;
  return (req, res) => {
    if (!guard.isHostAllowed(req.headers.host) || !guard.isOriginAllowed(req.headers.origin)) {
      return writeJsonError(res, 403, "Invalid Host or Origin header.");
    }
    if (guard.requiresKey && !guard.hasValidKey(req.headers)) {
      return writeJsonError(
        res,
        403,
        "This proxy requires its API key: send Authorization: Bearer <key> or X-API-Key: <key>.",
      );
    }
    const caller = currentCaller();
    if (!caller?.admin) {
      return writeJsonError(
        res,
        403,
        "Only the proxy's administrators (--admin) may see or change other users' state.",
      );
    }
    const perUser = options
      .upstreams()
      .flatMap((upstream) =>
        upstream.auth instanceof PerUserAuth ? [{ name: upstream.name, auth: upstream.auth }] : [],
      );
    if (req.method === "GET" || req.method === "HEAD") {
      return void Promise.all(
        perUser.map(async ({ name, auth }) => ({
          server: name,
          url: auth.serverUrl,
          users: (await auth.userStates()).map(({ user, label, grant, status }) => ({
            user,
            label: label ?? null,
            grant,
            signedIn: status.signedIn,
            signingIn: status.signInUrl !== undefined,
            expiresAt: status.expiresAt ?? null,
            hasRefreshToken: status.hasRefreshToken,
            scopes: status.scopes,
            account: status.account ?? null,
          })),
        })),
      ).then(
        (servers) => writeJson(res, 200, { servers }),
        (error: unknown) => writeJsonError(res, 500, `Could not read the users' state: ${describeError(error)}`),
      );
    }
    if (req.method !== "POST") return writeJsonError(res, 405, "Method not allowed.", ["allow", "GET, HEAD, POST"]);
    if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
      return writeJsonError(res, 415, 'Send {"server": "<name>", "user": "<user hash>"} as application/json.');
    }
    void (async () => {
      const read = await readBody(req, 4096);
      let request: { server?: unknown; user?: unknown } = {};
      try {
        request = read.ok ? (JSON.parse(read.body?.toString("utf8") ?? "{}") as typeof request) : {};
      } catch {
        // Answered below as a bad request.
      }
      const target =
        perUser.find(({ name }) => name === request.server) ?? (perUser.length === 1 ? perUser[0] : undefined);
      if (!target || typeof request.user !== "string") {
        return writeJsonError(res, 400, 'Name the upstream and the user: {"server": "<name>", "user": "<user hash>"}.');
      }
      const revoked = await target.auth.revokeUser(request.user);
      if (!revoked)
        return writeJsonError(
          res,
          404,
          `No user ${JSON.stringify(request.user.slice(0, 40))} is known for ${target.name}.`,
        );
      logger.info(`An administrator revoked a user's grant for ${target.name}.`, { user: request.user });
      writeJson(res, 200, { revoked: true, server: target.name, user: request.user });
    })().catch((error: unknown) => {
      if (!res.headersSent) writeJsonError(res, 500, `The revocation failed: ${describeError(error)}`);
    });
  };
}
