import type { CliArgs } from "../args.ts";

export async function stdioCommand(_args: CliArgs): Promise<number> {
  throw new Error("stdio is wired when src/app/stdio.ts lands");
}
