// The test fixture that hands out ports: concurrent calls in one process get different ports, each bindable and
// below the kernel's ephemeral range (where a released port is not handed to another socket).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { canBind, freePort } from "../fixtures/ports.ts";

test("concurrent freePort calls get distinct, bindable ports below the ephemeral range", async () => {
  const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
  assert.equal(new Set(ports).size, ports.length, `distinct: ${ports.join(", ")}`);
  const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  for (const port of ports) {
    assert.ok(port < low, `${port} is below ${low}`);
    assert.equal(await canBind(port), true, `${port} can be bound`);
  }
});
