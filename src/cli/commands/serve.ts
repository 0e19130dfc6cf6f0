import type { CliArgs } from "../args.ts";

export async function serveCommand(_args: CliArgs, _out: (text: string) => void): Promise<number> {
  throw new Error("serve is wired when src/app/serve.ts lands");
}
