// Finds a Node binary of another version: npm's `node` package through npx, installed once into npx's cache
// (.ci/run warms it, so the tests then run offline) and found again without a registry round trip.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** The path of the Node binary npm's `node@<spec>` package installs, and the version it reports. */
export async function locateNode(spec: string): Promise<{ node: string; version: string }> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(
      "npx",
      [
        "-y",
        "--prefer-offline",
        "-p",
        `node@${spec}`,
        "--",
        "node",
        "-e",
        "process.stdout.write(JSON.stringify({ node: process.execPath, version: process.version }))",
      ],
      { maxBuffer: 1 << 20, timeout: 300_000 },
    ));
  } catch (error) {
    throw new Error(
      `npx could not install or run node@${spec} (.ci/run installs it into npx's cache; run \`npx -y -p node@${spec} -- node --version\` once with network): ${(error as Error).message}`,
    );
  }
  return JSON.parse(stdout.slice(stdout.indexOf("{"))) as { node: string; version: string };
}
