/**
 * The person a request comes from, when the face serves several (`--identity`): resolved once per request by the
 * identity gate and carried through the request's asynchronous work, so that the per-user auth core, the session
 * binding and the pages act for that person without every layer passing it along.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";

export interface Caller {
  /** The stable, opaque user id the front vouches for (X-Forwarded-User, the header, the JWT claim). */
  readonly id: string;
  /**
   * What grants and sessions are keyed on: the mode and the id (`databricks-apps:<id>`), so that another mode never
   * inherits a grant. Only ever stored hashed (grantKey), never used as a path.
   */
  readonly principal: string;
  /** What people see: e-mail or user name when the front says, else the id. */
  readonly label: string;
  readonly email?: string | undefined;
  readonly username?: string | undefined;
  /** Named by --admin: may see every user's state (never tokens) and revoke their grants. */
  readonly admin: boolean;
}

const current = new AsyncLocalStorage<Caller>();

/** Runs `work` as `caller`: everything it starts, now or later, sees them as the current caller. */
export function runAsCaller<T>(caller: Caller, work: () => T): T {
  return current.run(caller, work);
}

/** The caller of the request being handled; undefined outside one (start-up, /healthz) or in single-user mode. */
export function currentCaller(): Caller | undefined {
  return current.getStore();
}

/** A short hash of a principal, for pages, logs and listings: it names a user without saying who. */
export function principalHash(principal: string): string {
  return createHash("sha256").update(`user\0${principal}`, "utf8").digest("hex").slice(0, 16);
}

/** Whether `admins` (ids, e-mails or user names, case-insensitive) names this person. */
export function isAdmin(
  admins: readonly string[],
  who: { id: string; email?: string | undefined; username?: string | undefined },
): boolean {
  if (admins.length === 0) return false;
  const names = [who.id, who.email, who.username].filter((name): name is string => Boolean(name));
  return admins.some((admin) => names.some((name) => name.toLowerCase() === admin.toLowerCase()));
}
