// Small clients of the proxy's faces as raw HTTP and stdio, for tests that compare what each face answers.

export const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "first-hour", version: "1" } },
} as const;

export interface RpcAnswer {
  jsonrpc: "2.0";
  id: string | number | null;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export { freePort } from "../../fixtures/ports.ts";

/** POSTs one JSON-RPC message to the proxy's `/mcp` and returns the JSON answer (the proxy answers errors as JSON). */
export async function postMcp(baseUrl: string, message: unknown): Promise<{ status: number; answer: RpcAnswer }> {
  const response = await fetch(`${baseUrl}/mcp`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify(message),
  });
  const text = await response.text();
  const json = response.headers.get("content-type")?.startsWith("text/event-stream")
    ? (text.split("\n").find((line) => line.startsWith("data: ")) ?? "").slice(6)
    : text;
  return { status: response.status, answer: JSON.parse(json) as RpcAnswer };
}

/**
 * A legacy HTTP+SSE client of the proxy's `/sse`: opens the stream, sends `message` to the announced endpoint and
 * returns the first JSON-RPC message event (or the HTTP error answer if the stream did not open).
 */
export async function exchangeOverSse(baseUrl: string, message: unknown): Promise<RpcAnswer> {
  const abort = new AbortController();
  try {
    const response = await fetch(`${baseUrl}/sse`, { headers: { accept: "text/event-stream" }, signal: abort.signal });
    if (!response.ok || !response.body) return JSON.parse(await response.text()) as RpcAnswer;
    const events = sseEvents(response.body);
    const endpoint = await events.next();
    if (endpoint.done || endpoint.value.event !== "endpoint") throw new Error("no endpoint event on /sse");
    const posted = await fetch(new URL(endpoint.value.data, baseUrl), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(message),
    });
    await posted.text();
    if (posted.status !== 202) throw new Error(`POST to the legacy endpoint answered ${posted.status}`);
    for (;;) {
      const next = await events.next();
      if (next.done) throw new Error("the /sse stream ended without an answer");
      if (next.value.event === "message") return JSON.parse(next.value.data) as RpcAnswer;
    }
  } finally {
    abort.abort();
  }
}

/** Opens `/sse` once and closes it at once (a client that looked and left). */
export async function touchSse(baseUrl: string): Promise<number> {
  const abort = new AbortController();
  const response = await fetch(`${baseUrl}/sse`, { headers: { accept: "text/event-stream" }, signal: abort.signal });
  const status = response.status;
  abort.abort();
  await response.body?.cancel().catch(() => {});
  return status;
}

async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, "\n");
    let end = buffer.indexOf("\n\n");
    while (end !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length > 0) yield { event, data: data.join("\n") };
      end = buffer.indexOf("\n\n");
    }
  }
}

/** Every JSON-RPC message a stdio run printed, one per line. */
export function stdoutMessages(stdout: string): RpcAnswer[] {
  return stdout
    .split("\n")
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as RpcAnswer);
}
