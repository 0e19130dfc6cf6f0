// Where a child process listens, read from the kernel's socket table (Linux): the tests need to know that the
// proxy bound the IPv4 wildcard, which a connection on 127.0.0.1 cannot tell apart from a loopback bind.
import { readFileSync } from "node:fs";

/** Whether something listens on 0.0.0.0:port (IPv4 wildcard), from /proc/net/tcp (state 0A = LISTEN). */
export function listensOnAllInterfaces(port: number): boolean {
  return listeningAddresses(port).includes("00000000");
}

/** The local IPv4 addresses (hex, as /proc/net/tcp writes them) listening on `port`. */
export function listeningAddresses(port: number): string[] {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .flatMap((line) => {
      const [, local, , state] = line.trim().split(/\s+/);
      const [address, localPort] = (local ?? "").split(":");
      return localPort === hex && state === "0A" && address ? [address] : [];
    });
}
