import { createStore } from "../../app/context.ts";
import { createLogger } from "../../lib/logger.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { describeIn } from "../format.ts";
import { statusesOf, storedUpstreams } from "../stored-upstreams.ts";

/** `list`: one line per stored server. */
export async function listCommand(args: CliArgs, out: (text: string) => void): Promise<number> {
  const logger = createLogger({ level: args.runtime.debug ? "debug" : "warn" });
  const store = createStore(args.runtime, (message) => logger.warn(message));
  const statuses = await statusesOf(await storedUpstreams(store, args.runtime, logger));
  if (args.json) {
    out(JSON.stringify(statuses, null, 2));
    return EXIT.ok;
  }
  if (statuses.length === 0) {
    out(`No stored sign-ins in ${store.location}.`);
    return EXIT.ok;
  }
  const rows = statuses.map((s) => [
    s.serverUrl,
    s.signedIn ? "signed in" : "signed out",
    s.expiresAt ? `expires ${describeIn(s.expiresInSeconds)}` : "",
    s.account ?? "",
    s.storeKey,
  ]);
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  out(
    rows
      .map((row) =>
        row
          .map((cell, column) => cell.padEnd(widths[column]!))
          .join("  ")
          .trimEnd(),
      )
      .join("\n"),
  );
  return EXIT.ok;
}
