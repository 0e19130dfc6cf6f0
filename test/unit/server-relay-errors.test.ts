import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { ProxyError } from "../../src/lib/errors.ts";
import {
  httpStatusOf,
  JSON_RPC_ERROR,
  jsonRpcErrorOf,
  requestIdsOf,
  upstreamStatusError,
  writeErrorResponse,
} from "../../src/proxy/relay-errors.ts";

interface WireError {
  jsonrpc: string;
  id: unknown;
  error: { code: number; message: string };
}

/** Runs `write` as a real server's answer and returns what a client receives. */
async function answer(write: (res: ServerResponse) => void) {
  const server = createServer((_req, res) => write(res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    return { status: response.status, headers: response.headers, body: (await response.json()) as WireError };
  } finally {
    server.close();
  }
}

describe("relay errors", () => {
  const signIn = new ProxyError("SIGN_IN_REQUIRED", "Sign-in to https://up.example/mcp is required.", {
    hint: "Open it, then retry.",
    details: { signInUrl: "https://as.example/authorize?x=1" },
  });

  test("statuses per code: sign-in 503 (never 401), unreachable 502, slow 504, scope 403", () => {
    assert.equal(httpStatusOf(signIn), 503);
    assert.equal(httpStatusOf(new ProxyError("NETWORK", "x")), 502);
    assert.equal(httpStatusOf(new ProxyError("UPSTREAM_ERROR", "x")), 502);
    assert.equal(httpStatusOf(new ProxyError("UPSTREAM_TIMEOUT", "x")), 504);
    assert.equal(httpStatusOf(new ProxyError("INSUFFICIENT_SCOPE", "x")), 403);
  });

  test("the JSON-RPC error names the sign-in URL in its message and data", () => {
    const error = jsonRpcErrorOf(signIn);
    assert.equal(error.code, JSON_RPC_ERROR.SIGN_IN_REQUIRED);
    assert.match(error.message, /https:\/\/as\.example\/authorize\?x=1/);
    assert.equal(error.data.signInUrl, "https://as.example/authorize?x=1");
    assert.equal(error.data.proxyError, "SIGN_IN_REQUIRED");
  });

  test("a JSON-RPC request gets HTTP 200 with its id echoed", async () => {
    const { status, body } = await answer((res) => writeErrorResponse(res, signIn, { ids: ["req-7"] }));
    assert.equal(status, 200);
    assert.equal(body.id, "req-7");
    assert.equal(body.jsonrpc, "2.0");
    assert.equal(body.error.code, JSON_RPC_ERROR.SIGN_IN_REQUIRED);
  });

  test("without ids (notifications, GET streams, legacy POSTs) the status carries it, with Retry-After on 503", async () => {
    const { status, headers, body } = await answer((res) =>
      writeErrorResponse(res, signIn, { statusOnly: true, ids: [1] }),
    );
    assert.equal(status, 503);
    assert.equal(headers.get("retry-after"), "5");
    assert.equal(headers.get("cache-control"), "no-store");
    assert.equal(body.id, null);
  });

  test("an explicit status wins (413)", async () => {
    const { status } = await answer((res) =>
      writeErrorResponse(res, new ProxyError("USAGE", "big"), { status: 413, ids: [1] }),
    );
    assert.equal(status, 413);
  });

  test("requestIdsOf finds request ids only, in singles and batches; never throws", () => {
    assert.deepEqual(requestIdsOf(Buffer.from('{"jsonrpc":"2.0","id":3,"method":"tools/list"}')), [3]);
    assert.deepEqual(
      requestIdsOf(
        Buffer.from(
          '[{"jsonrpc":"2.0","id":"a","method":"x"},{"jsonrpc":"2.0","method":"notifications/x"},{"id":9,"result":{}}]',
        ),
      ),
      ["a"],
    );
    assert.equal(requestIdsOf(Buffer.from('{"jsonrpc":"2.0","method":"notifications/initialized"}')), undefined);
    assert.equal(requestIdsOf(Buffer.from("{not json")), undefined);
    assert.equal(requestIdsOf(undefined), undefined);
  });

  test("upstream 5xx errors name the upstream and quote its JSON-RPC message, redacted", () => {
    const error = upstreamStatusError(
      "https://up.example/mcp",
      500,
      '{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error"}}',
    );
    assert.equal(error.code, "UPSTREAM_ERROR");
    assert.match(error.message, /https:\/\/up\.example\/mcp answered HTTP 500: Internal error/);
    const text = upstreamStatusError("u", 502, "Bad gateway: Bearer abc.def.ghi\nmore");
    assert.doesNotMatch(text.message, /abc\.def\.ghi/);
    assert.doesNotMatch(text.message, /more/);
  });
});
