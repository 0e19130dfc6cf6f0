import type { Server } from "node:http";
import { ProxyError } from "./errors.ts";

/**
 * Loopback addresses a browser may send the OAuth callback to for this redirect URI host; the proxy must own every
 * one of them, or another local process listening on the one it left free receives the code and state.
 * `localhost` resolves to 127.0.0.1 or ::1 depending on the browser and the machine: both.
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-8.3
 */
export function callbackAddresses(callbackHost: string): string[] {
  const host = callbackHost.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return ["127.0.0.1", "::1"];
  if (host === "::1") return ["::1"];
  if (/^127(?:\.\d{1,3}){3}$/.test(host)) return [host];
  return ["127.0.0.1"];
}

/** Listens and resolves with the bound port; rejects with the listen error as it is. */
export function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

/**
 * Binds a further address of the callback on the port already bound elsewhere. Resolves false when the machine has no
 * such address family (no ::1: nobody can listen there either); a port someone else holds there is refused, because
 * the browser could send the sign-in to them.
 */
export async function listenCallbackAddress(server: Server, port: number, address: string): Promise<boolean> {
  try {
    await listenOn(server, port, address);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRNOTAVAIL" || code === "EAFNOSUPPORT") return false;
    const where = address.includes(":") ? `[${address}]` : address;
    if (code === "EADDRINUSE") {
      throw new ProxyError(
        "CALLBACK_PORT_IN_USE",
        `Port ${port} on ${where} is already in use by another process; the browser could send your sign-in there.`,
        { hint: `Stop it, pick another --port, or use --callback-host 127.0.0.1.`, cause: error },
      );
    }
    throw new ProxyError(
      "CALLBACK_PORT_IN_USE",
      `Cannot listen for the OAuth callback on ${where}:${port} (${code}).`,
      {
        hint: `Pick another --port, or use --callback-host 127.0.0.1.`,
        cause: error,
      },
    );
  }
}
