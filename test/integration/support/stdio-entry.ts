// A stand-in for `mcp-u2m-proxy stdio <url>` (whose CLI wiring lives elsewhere): the real auth core, the real file
// store (which also keeps the upstream's era verdict) and runStdio, configured from the environment. Spawned by the stdio face tests as
// `node --import tsx test/integration/support/stdio-entry.ts <url>`.
//   MCP_AUTH_DIR                 token directory (required)
//   STDIO_TEST_OPEN_BROWSER      "0": only print the sign-in URL (default: run $BROWSER)
//   STDIO_TEST_SIGN_IN_WAIT_MS   how long a request waits for a sign-in (default: the core's)
//   STDIO_TEST_LOG_LEVEL         logger level on stderr (default "info")
//   STDIO_TEST_TRANSPORT         "streamable-http" | "sse": skip detection
import { signInPresenter } from "../../../src/app/context.ts";
import { runStdio } from "../../../src/app/stdio.ts";
import { createUpstreamAuth } from "../../../src/auth/upstream-auth.ts";
import type { RuntimeOptions, UpstreamOptions } from "../../../src/config/options.ts";
import { createLogger, type LogLevel } from "../../../src/lib/logger.ts";
import type { UpstreamTransportKind } from "../../../src/proxy/upstream-connector.ts";
import { FileTokenStore } from "../../../src/store/file-store.ts";

const url = process.argv[2];
const authDir = process.env.MCP_AUTH_DIR;
if (!url || !authDir) {
  process.stderr.write("usage: MCP_AUTH_DIR=dir stdio-entry.ts <url>\n");
  process.exit(2);
}
const logger = createLogger({ level: (process.env.STDIO_TEST_LOG_LEVEL as LogLevel | undefined) ?? "info" });
const upstream: UpstreamOptions = { url, authorizeParams: {}, headers: {}, sendResource: true };
const runtime: RuntimeOptions = {
  authDir,
  port: 0,
  callbackHost: "127.0.0.1",
  openBrowser: process.env.STDIO_TEST_OPEN_BROWSER !== "0",
  debug: false,
  allowInsecureHttp: false,
};
const waitMs = process.env.STDIO_TEST_SIGN_IN_WAIT_MS;
const store = new FileTokenStore({ dir: authDir, onWarning: (message) => logger.warn(message) });
const auth = createUpstreamAuth(upstream, runtime, {
  store,
  logger,
  callback: "own-listener",
  ...signInPresenter(logger),
});
await runStdio({
  upstream,
  runtime,
  auth,
  logger,
  transport: process.env.STDIO_TEST_TRANSPORT as UpstreamTransportKind | undefined,
  // As the CLI does: the upstream's era verdict is remembered beside its tokens.
  eraStore: { store, key: auth.storeKey },
  ...(waitMs ? { signInWaitMs: Number(waitMs) } : {}),
});
await auth.close();
logger.debug("stdio entry done");
