// A small identity-aware front, as Databricks Apps puts one before an app: it knows its users by a session cookie
// (`front_user=<login>`, the stand-in for the workspace sign-in), removes every X-Forwarded-* header a client sent,
// adds X-Forwarded-User (an opaque id), -Email, -Preferred-Username, -Host, -Proto and the user's own platform token
// in X-Forwarded-Access-Token, and streams everything else through. A request without a known cookie is
// forwarded without X-Forwarded-User, so what the app does then is what the test sees.
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FrontUser {
  /** The login name at the test AS (and the cookie's value). */
  login: string;
  /** The opaque id the platform names the user by. */
  id: string;
  email: string;
}

export interface IdentityFront {
  readonly url: string;
  readonly port: number;
  /** The platform token the front hands the app for `login` (it must never reach the upstream or the logs). */
  platformToken(login: string): string;
  close(): Promise<void>;
}

export async function startIdentityFront(target: string, users: readonly FrontUser[]): Promise<IdentityFront> {
  const byLogin = new Map(users.map((user) => [user.login, user]));
  const upstream = new URL(target);
  let publicHost = "";
  const server: Server = createServer((req, res) => {
    const user = byLogin.get(cookieValue(req, "front_user") ?? "");
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name.startsWith("x-forwarded") || name === "x-real-ip") continue;
      headers[name] = value;
    }
    headers["x-forwarded-host"] = publicHost;
    headers["x-forwarded-proto"] = "http";
    if (user) {
      headers["x-forwarded-user"] = user.id;
      headers["x-forwarded-email"] = user.email;
      headers["x-forwarded-preferred-username"] = user.login;
      headers["x-forwarded-access-token"] = platformToken(user.login);
    }
    const forwarded = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on("error", () => {
      if (!res.headersSent) res.writeHead(502).end("front: the app is unreachable");
      else res.destroy();
    });
    res.on("close", () => forwarded.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  publicHost = `127.0.0.1:${port}`;
  return {
    url: `http://${publicHost}`,
    port,
    platformToken,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function platformToken(login: string): string {
  return `dapi-platform-token-of-${login}-0123456789`;
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
