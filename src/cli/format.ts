import type { AuthStatus } from "../auth/auth-client.ts";
import type { UserGrant } from "./user-grants.ts";

/** "in 58 min", "2 h 5 min ago": how long until (or since) expiry, for people. */
export function describeIn(seconds: number | undefined): string {
  if (seconds === undefined) return "no expiry given";
  const abs = Math.abs(seconds);
  const text =
    abs < 90
      ? `${abs} s`
      : abs < 5400
        ? `${Math.round(abs / 60)} min`
        : `${Math.floor(abs / 3600)} h ${Math.round((abs % 3600) / 60)} min`;
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

/** The multi-line status block printed by `status` and after `auth`. */
export function formatStatus(
  status: AuthStatus & { hiddenTools?: readonly string[] | undefined },
  location: string,
): string {
  const lines = [status.serverUrl];
  const who = status.account ? ` (as ${status.account})` : "";
  lines.push(`  signed in:            ${status.signedIn ? `yes${who}` : "no"}`);
  if (status.expiresAt) {
    const expired = (status.expiresInSeconds ?? 0) <= 0;
    const label = status.bearer === "id_token" ? "ID token expires:    " : "access token expires:";
    lines.push(`  ${label} ${status.expiresAt} (${expired ? "expired " : ""}${describeIn(status.expiresInSeconds)})`);
  }
  lines.push(`  refresh token:        ${status.hasRefreshToken ? "yes" : "no"}`);
  if (status.scopes.length > 0) lines.push(`  scopes:               ${status.scopes.join(" ")}`);
  if (status.issuer) lines.push(`  authorization server: ${status.issuer}`);
  if (status.clientId) lines.push(`  client:               ${status.clientId} (${status.clientSource ?? "unknown"})`);
  for (const adjustment of status.adjustments ?? []) lines.push(`  adjusted:             ${adjustment}`);
  if (status.hiddenTools?.length) lines.push(`  hidden tools:         ${status.hiddenTools.join(" ")} (--ignore-tool)`);
  if (status.signInUrl) lines.push(`  sign-in under way:    ${status.signInUrl}`);
  // Name the tokens file only when there is one: a registration or a sign-in under way has no tokens yet.
  const hasTokens = status.signedIn || status.hasRefreshToken || status.expiresAt !== undefined;
  lines.push(
    hasTokens
      ? `  stored in:            ${location}/${status.storeKey}_tokens.json`
      : `  stored in:            ${location} (no tokens yet)`,
  );
  return lines.join("\n");
}

/**
 * One line per user grant, aligned: grant id, e-mail or user name ("-" when unknown), state, expiry, refresh token
 * and the account the authorization server named.
 */
export function formatUserGrants(grants: readonly UserGrant[], indent: string): string[] {
  const rows = grants.map((grant) => [
    grant.grant,
    grant.label ?? "-",
    grant.state,
    grant.expiresAt === null
      ? "no expiry given"
      : `${grant.state === "valid" ? "expires" : "expired"} ${describeIn(grant.expiresInSeconds ?? undefined)}`,
    grant.hasRefreshToken ? "refresh token" : "no refresh token",
    grant.account ? `as ${grant.account}` : "",
  ]);
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length)));
  return rows.map((row) =>
    `${indent}${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ")}`.trimEnd(),
  );
}
