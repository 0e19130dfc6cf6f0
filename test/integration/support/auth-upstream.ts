// What every per-user sign-in test starts with: the real test AS, a real MCP server it protects (whoami and the
// other test tools), and a fresh auth dir for the proxy's store; closed in the reverse order.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAuthServer, type TestAuthServer } from "../../fixtures/auth-server.ts";
import { startMcpServer, type TestMcpServer } from "../../fixtures/mcp-server.ts";

export interface AuthUpstream {
  readonly as: TestAuthServer;
  readonly mcp: TestMcpServer;
  /** A new, empty directory for the proxy's `--auth-dir` (removed by close()). */
  readonly dir: string;
  close(): Promise<void>;
}

export async function startAuthUpstream(options: {
  /** The auth dir's name prefix in the temp dir. */
  dirPrefix: string;
  /** The upstream's transport (default streamable-stateful). */
  transport?: "streamable-stateful" | "streamable-stateless" | "sse";
}): Promise<AuthUpstream> {
  const as = await startAuthServer();
  let mcp: TestMcpServer | undefined;
  try {
    mcp = await startMcpServer({ authServer: as, transport: options.transport ?? "streamable-stateful" });
    const started = mcp;
    const dir = await mkdtemp(join(tmpdir(), options.dirPrefix));
    return {
      as,
      mcp: started,
      dir,
      close: async () => {
        await started.close();
        await as.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await mcp?.close();
    await as.close();
    throw error;
  }
}
