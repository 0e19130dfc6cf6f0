import type { Server } from "node:http";
import { CALLBACK_PATH, DEFAULT_CALLBACK_HOST } from "../config/options.ts";
import { callbackAddresses, listenCallbackAddress, listenOn } from "../lib/callback-bind.ts";
import { ProxyError } from "../lib/errors.ts";
import { createHardenedHttpServer, type InboundTimeouts, inboundTimeouts } from "../lib/hardened-http-server.ts";
import type { CallbackResult } from "./auth-client.ts";
import { PAGE_HEADERS, renderCallbackPage } from "./callback-page.ts";

/**
 * A short-lived loopback listener for `/oauth/callback`, used by the CLI and the stdio face (the HTTP face serves
 * the callback on its own server). Binds every address the redirect URI's host can reach (127.0.0.1 by default;
 * 127.0.0.1 and ::1 for `localhost`), never 0.0.0.0, and refuses to start when another process holds one of them.
 */
export interface CallbackListener {
  readonly port: number;
  close(): Promise<void>;
}

export interface CallbackListenerOptions {
  /** The redirect URI's host (RuntimeOptions.callbackHost). */
  callbackHost?: string | undefined;
  /** Inbound socket limits (defaults: a browser sends one small GET). */
  timeouts?: Partial<InboundTimeouts> | undefined;
}

const CALLBACK_TIMEOUTS: InboundTimeouts = { headersMs: 10_000, requestMs: 15_000, keepAliveMs: 5_000, idleMs: 30_000 };

export async function startCallbackListener(
  port: number,
  onCallback: (query: URLSearchParams) => Promise<CallbackResult>,
  options: CallbackListenerOptions = {},
): Promise<CallbackListener> {
  const timeouts = inboundTimeouts(CALLBACK_TIMEOUTS, options.timeouts);
  const makeServer = () =>
    createHardenedHttpServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (req.method !== "GET" || url.pathname !== CALLBACK_PATH) {
        res.writeHead(404, { "content-type": "text/plain", connection: "close" }).end("Not found\n");
        return;
      }
      void onCallback(url.searchParams).then((result) => {
        const page = renderCallbackPage(result);
        res.writeHead(page.status, { ...PAGE_HEADERS, connection: "close" }).end(page.html);
      });
    }, timeouts);

  const [first, ...others] = callbackAddresses(options.callbackHost ?? DEFAULT_CALLBACK_HOST);
  const primary = makeServer();
  let actualPort: number;
  try {
    actualPort = await listenOn(primary, port, first ?? DEFAULT_CALLBACK_HOST);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    throw new ProxyError("CALLBACK_PORT_IN_USE", `Port ${port} for the OAuth callback is already in use.`, {
      hint: "Stop what uses it, or pick another with --port (or OAUTH_CALLBACK_PORT).",
      cause: error,
    });
  }
  const servers = [primary];
  const close = () => Promise.all(servers.map(closeServer)).then(() => {});
  try {
    for (const address of others) {
      const server = makeServer();
      if (await listenCallbackAddress(server, actualPort, address)) servers.push(server);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { port: actualPort, close };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
