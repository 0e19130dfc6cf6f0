import { createServer, type Server } from "node:http";
import { CALLBACK_PATH } from "../config/options.ts";
import { ProxyError } from "../lib/errors.ts";
import type { CallbackResult } from "./auth-client.ts";
import { PAGE_HEADERS, renderCallbackPage } from "./callback-page.ts";

/**
 * A short-lived loopback listener for `/oauth/callback`, used by the CLI and the stdio face (the HTTP face serves
 * the callback on its own server). Binds 127.0.0.1, and ::1 when available, so a `localhost` redirect reaches it
 * whichever address the browser resolves (never 0.0.0.0).
 */
export interface CallbackListener {
  readonly port: number;
  close(): Promise<void>;
}

export async function startCallbackListener(
  port: number,
  onCallback: (query: URLSearchParams) => Promise<CallbackResult>,
): Promise<CallbackListener> {
  const handler = (server: Server) =>
    server.on("request", (req, res) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (req.method !== "GET" || url.pathname !== CALLBACK_PATH) {
        res.writeHead(404, { "content-type": "text/plain" }).end("Not found\n");
        return;
      }
      void onCallback(url.searchParams).then((result) => {
        const page = renderCallbackPage(result);
        res.writeHead(page.status, { ...PAGE_HEADERS, connection: "close" }).end(page.html);
      });
    });

  const v4 = handler(createServer());
  const actualPort = await listen(v4, port, "127.0.0.1");
  const servers = [v4];
  const v6 = handler(createServer());
  try {
    await listen(v6, actualPort, "::1");
    servers.push(v6);
  } catch {
    // No IPv6 loopback here; 127.0.0.1 is enough for browsers that resolve localhost to it.
  }
  return {
    port: actualPort,
    close: async () => {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE" && host === "127.0.0.1") {
        reject(
          new ProxyError("CALLBACK_PORT_IN_USE", `Port ${port} for the OAuth callback is already in use.`, {
            hint: "Stop what uses it, or pick another with --port (or OAUTH_CALLBACK_PORT).",
            cause: error,
          }),
        );
      } else reject(error);
    });
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}
