import type { CliArgs } from "../args.ts";
import { printConfigNotices } from "../config-notices.ts";
import { EXIT } from "../exit-codes.ts";
import { describeIn, formatUserGrants } from "../format.ts";
import { allStatuses, nothingListed } from "./status.ts";

/**
 * `list`: one line per configured or stored server, each followed by its per-user grants (`serve --identity`), one
 * indented line per user; the config file's warnings on `err`. With --json one object:
 * `{ "servers": [...], "warnings": [...] }`, a server with per-user grants carrying them in `users`. `--user` keeps
 * only that person's grants (and the servers they have one for).
 */
export async function listCommand(
  args: CliArgs,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  const { statuses, location, warnings } = await allStatuses(args);
  if (args.json) {
    out(JSON.stringify({ servers: statuses, warnings }, null, 2));
    return EXIT.ok;
  }
  printConfigNotices(warnings, err);
  if (statuses.length === 0) {
    out(nothingListed(args, location));
    return EXIT.ok;
  }
  const rows = statuses.map((s) => [
    s.name ?? "-",
    s.serverUrl,
    s.staticAuthorization
      ? "static header"
      : s.signedIn
        ? "signed in"
        : s.users?.length
          ? `${s.users.length} user grant${s.users.length === 1 ? "" : "s"}`
          : "not signed in",
    s.expiresAt ? `expires ${describeIn(s.expiresInSeconds)}` : "",
    s.account ?? "",
  ]);
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length)));
  out(
    rows
      .flatMap((row, index) => [
        row
          .map((cell, column) => cell.padEnd(widths[column] ?? 0))
          .join("  ")
          .trimEnd(),
        ...formatUserGrants(statuses[index]?.users ?? [], "  user "),
      ])
      .join("\n"),
  );
  return EXIT.ok;
}
