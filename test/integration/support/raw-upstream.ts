// A small raw node:http upstream that misbehaves on purpose, and the HTTP face (startServe) in front of it with a
// static Authorization header instead of OAuth, its log lines captured.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type ServeHandle, type ServeOptions, startServe } from "../../../src/app/serve.ts";
import { createLogger } from "../../../src/lib/logger.ts";
import { freePort } from "./http-face-harness.ts";

export interface RawUpstream {
  origin: string;
  server: Server;
  /** Every request as the upstream saw it. */
  seen: { method: string; url: string; headers: IncomingMessage["headers"] }[];
  close(): Promise<void>;
}

export async function rawUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<RawUpstream> {
  const seen: RawUpstream["seen"] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface StaticFace {
  face: ServeHandle;
  /** Every line the proxy logged (debug level). */
  logs: string[];
}

/** The HTTP face in front of `upstreamUrl`, with `headers` (an Authorization header among them) on every request. */
export async function staticFace(
  upstreamUrl: string,
  headers: Record<string, string>,
  extra: Partial<ServeOptions> = {},
): Promise<StaticFace> {
  const logs: string[] = [];
  const port = await freePort();
  const face = await startServe({
    upstream: { url: upstreamUrl, authorizeParams: {}, headers, sendResource: true },
    runtime: {
      authDir: "/nonexistent",
      port,
      callbackHost: "localhost",
      openBrowser: false,
      debug: false,
      allowInsecureHttp: true,
    },
    port,
    logger: createLogger({ level: "debug", write: (line) => logs.push(line) }),
    ...extra,
  });
  return { face, logs };
}

/** Reads a response body to its end, or to the point where the proxy cut it. */
export async function readAll(response: Response): Promise<Buffer> {
  const parts: Buffer[] = [];
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(Buffer.from(value));
    }
  } catch {
    // cut by the proxy: what arrived is what the client has
  }
  return Buffer.concat(parts);
}
