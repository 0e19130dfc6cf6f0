/**
 * The floor of the stdio transport itself, with no proxy: how long an SDK stdio client takes to receive one large
 * JSON-RPC response line from a child process that has it ready in memory. A stdio face's large-result time cannot
 * go below this plus the upstream's own answer, so the bench's "5 MB result" ratio for a stdio path is read
 * against it (bench/run.ts measures it in every round that measures the stdio face, with the bench's SDK v2 client).
 * Both client eras (SDK v1 and v2): their ReadBuffer joins each pipe chunk onto everything received so far
 * (Buffer.concat) and scans it for a newline, so a large line costs more than its bytes.
 *
 * Run alone: `npx tsx bench/stdio-floor.ts [megabytes]` (default 5).
 */

import { pathToFileURL } from "node:url";
import { StdioClientTransport as V2StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { StdioClientTransport as V1StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

interface StdioClient {
  onmessage?: ((message: unknown) => void) | undefined;
  start(): Promise<void>;
  send(message: { jsonrpc: "2.0"; id: number; method: string }): Promise<void>;
  close(): Promise<void>;
}

/** A child that answers every input line with the same prepared `bytes`-long response line. */
function childSource(bytes: number): string {
  return `
const line = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "x".repeat(${bytes}) }] } }) + "\\n";
let pending = "";
process.stdin.on("data", (chunk) => {
  pending += chunk;
  for (let at = pending.indexOf("\\n"); at !== -1; at = pending.indexOf("\\n")) {
    pending = pending.slice(at + 1);
    process.stdout.write(line);
  }
});`;
}

async function measure(transport: StdioClient, rounds: number): Promise<number[]> {
  let received: () => void = () => {};
  transport.onmessage = () => received();
  await transport.start();
  const times: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const start = performance.now();
      await new Promise<void>((resolve) => {
        received = resolve;
        void transport.send({ jsonrpc: "2.0", id: 1, method: "ping" });
      });
      times.push(performance.now() - start);
    }
  } finally {
    await transport.close();
  }
  return times;
}

function childOptions(bytes: number) {
  return { command: process.execPath, args: ["-e", childSource(bytes)] };
}

/** `rounds` times (ms) for the bench's SDK v2 stdio client to receive one `bytes`-long line, after one warm-up. */
export async function stdioFloorTimes(bytes: number, rounds: number): Promise<number[]> {
  const transport = new V2StdioClientTransport(childOptions(bytes)) as unknown as StdioClient;
  const times = await measure(transport, rounds + 1);
  return times.slice(1);
}

async function main(): Promise<void> {
  const megabytes = Number(process.argv[2] ?? 5);
  if (!(megabytes > 0 && megabytes <= 9))
    throw new Error("megabytes must be in (0, 9] (the SDK clients refuse 10 MiB)");
  const bytes = Math.round(megabytes * 1024 * 1024);
  const rounds = 9;
  for (const [era, transport] of [
    ["SDK v1 client", new V1StdioClientTransport(childOptions(bytes))],
    ["SDK v2 client", new V2StdioClientTransport(childOptions(bytes))],
  ] as const) {
    const times = (await measure(transport as unknown as StdioClient, rounds)).sort((a, b) => a - b);
    const median = times[Math.floor(rounds / 2)] as number;
    console.log(
      `${era}: one ${megabytes} MB line over stdio, no proxy: median ${median.toFixed(1)} ms (min ${(times[0] as number).toFixed(1)}, max ${(times[rounds - 1] as number).toFixed(1)}; ${rounds} rounds)`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
