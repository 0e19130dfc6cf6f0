import type { CliArgs } from "../args.ts";
import { printConfigNotices } from "../config-notices.ts";
import { EXIT } from "../exit-codes.ts";
import { describeIn } from "../format.ts";
import { allStatuses } from "./status.ts";

/**
 * `list`: one line per configured or stored server; the config file's warnings on `err`. With --json one object:
 * `{ "servers": [...], "warnings": [...] }`.
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
    out(`No configured servers and no stored sign-ins in ${location}.`);
    return EXIT.ok;
  }
  const rows = statuses.map((s) => [
    s.name ?? "-",
    s.serverUrl,
    s.staticAuthorization ? "static header" : s.signedIn ? "signed in" : "not signed in",
    s.expiresAt ? `expires ${describeIn(s.expiresInSeconds)}` : "",
    s.account ?? "",
  ]);
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length)));
  out(
    rows
      .map((row) =>
        row
          .map((cell, column) => cell.padEnd(widths[column] ?? 0))
          .join("  ")
          .trimEnd(),
      )
      .join("\n"),
  );
  return EXIT.ok;
}
