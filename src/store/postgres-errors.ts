import { ProxyError } from "../lib/errors.ts";

/**
 * What a failed query of the Postgres store means: the server answered and refused (permissions, a read-only
 * replica, …), or it could not be reached (connection exceptions, the server shutting down or starting up: a
 * restart, not a no). `unreachable` tells the store to say so once, until a query works again.
 */
export function postgresStoreError(error: unknown, location: string): { error: ProxyError; unreachable: boolean } {
  if (error instanceof ProxyError) return { error, unreachable: false };
  const sqlState = (error as { code?: unknown }).code;
  // 08: connection exceptions; 57P01-57P05: the server shutting down, starting up or gone.
  const goingAway = typeof sqlState === "string" && (sqlState.startsWith("08") || sqlState.startsWith("57P"));
  if (typeof sqlState === "string" && /^[0-9A-Z]{5}$/.test(sqlState) && !goingAway) {
    return {
      unreachable: false,
      error: new ProxyError(
        "STORE_ERROR",
        `The Postgres token store ${location} refused a query: ${postgresErrorText(error)} (SQLSTATE ${sqlState}).`,
        {
          hint: "Check that this user may create and write tables in the database (or its schema), on a primary.",
          cause: error,
        },
      ),
    };
  }
  return {
    unreachable: true,
    error: new ProxyError(
      "STORE_ERROR",
      `The Postgres token store ${location} is unreachable (${postgresErrorText(error)}).`,
      {
        hint: "Check that PostgreSQL is running and reachable; tokens already in memory keep working meanwhile.",
        cause: error,
      },
    ),
  };
}

/** A short reason: the network code (ECONNREFUSED, …) when there is one, else the message. */
export function postgresErrorText(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === "string" && !/^[0-9A-Z]{5}$/.test(code)) return code;
    if (typeof message === "string" && message) return message;
  }
  return String(error);
}

/** postgres://user@host:port/db from the PG* variables, for messages (PGPASSWORD never appears). */
export function describePgEnv(env: NodeJS.ProcessEnv): string {
  const user = env.PGUSER ?? env.USER ?? "";
  const host = env.PGHOST ?? "localhost";
  const port = env.PGPORT ?? "5432";
  const database = env.PGDATABASE ?? user;
  return `postgres://${user ? `${encodeURIComponent(user)}@` : ""}${host}:${port}/${database} (from PG* variables)`;
}
