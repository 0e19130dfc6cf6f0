// The catalogue of user-facing messages for servers that did not answer or answered with a failure: one wording
// per case, naming the right party, whichever HTTP client (undici request, fetch) saw the failure.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { toProxyError as authError, partyOfRequest } from "../../src/auth/oauth-errors.ts";
import { secureFetch } from "../../src/auth/secure-fetch.ts";
import {
  authorizationServer,
  brokeOff,
  mcpServer,
  refused,
  serverError,
  signInServersUnreachable,
  unreachable,
} from "../../src/lib/messages.ts";
import { FetchFailure, isNetworkFailure, networkCause } from "../../src/lib/network-failure.ts";
import { jsonRpcErrorOf } from "../../src/proxy/relay-errors.ts";
import { toProxyError as bridgeError } from "../../src/proxy/upstream-error.ts";

const MCP = "http://127.0.0.1:14999/mcp";

function errno(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:14999`), { code });
}
/** What fetch() rejects with when nothing answers. */
function fetchFailed(code: string): TypeError {
  return new TypeError("fetch failed", { cause: errno(code) });
}

describe("network failures read alike from undici and fetch", () => {
  test("the cause in words", () => {
    for (const [code, words] of [
      ["ECONNREFUSED", "connection refused"],
      ["ENOTFOUND", "host name not found"],
      ["ECONNRESET", "the connection was closed"],
      ["UND_ERR_SOCKET", "the connection was closed"],
      ["EHOSTUNREACH", "no route to the host"],
      ["DEPTH_ZERO_SELF_SIGNED_CERT", "its TLS certificate was refused (DEPTH_ZERO_SELF_SIGNED_CERT)"],
    ] as const) {
      assert.equal(networkCause(errno(code)), words, `undici ${code}`);
      assert.equal(networkCause(fetchFailed(code)), words, `fetch ${code}`);
      assert.equal(networkCause(new FetchFailure(MCP, fetchFailed(code))), words, `named fetch ${code}`);
    }
  });

  test("what counts as no answer", () => {
    assert.equal(isNetworkFailure(fetchFailed("ECONNREFUSED")), true);
    assert.equal(isNetworkFailure(errno("ECONNRESET")), true);
    assert.equal(isNetworkFailure(new DOMException("timed out", "TimeoutError")), true);
    assert.equal(isNetworkFailure(new Error("Server sent invalid JSON")), false);
    assert.equal(isNetworkFailure(new TypeError("Cannot read properties of undefined")), false);
  });

  test("the same outage is the same error on the HTTP face's relay and on the message path", () => {
    const relayed = unreachable(mcpServer(MCP), errno("ECONNREFUSED"));
    const bridged = bridgeError(fetchFailed("ECONNREFUSED"), MCP);
    assert.equal(relayed.message, `The MCP server ${MCP} could not be reached: connection refused.`);
    assert.deepEqual(jsonRpcErrorOf(bridged), jsonRpcErrorOf(relayed));
    const rpc = jsonRpcErrorOf(bridged);
    assert.equal(rpc.code, -32052);
    assert.equal(rpc.data.proxyError, "NETWORK");
    assert.equal(rpc.data.upstream, MCP);
  });

  test("timeouts from either client are UPSTREAM_TIMEOUT with one wording", () => {
    const undiciTimeout = Object.assign(new Error("Headers Timeout Error"), { code: "UND_ERR_HEADERS_TIMEOUT" });
    const relayed = unreachable(mcpServer(MCP), undiciTimeout);
    const bridged = bridgeError(new DOMException("The operation timed out", "TimeoutError"), MCP);
    assert.equal(relayed.code, "UPSTREAM_TIMEOUT");
    assert.equal(bridged.code, "UPSTREAM_TIMEOUT");
    assert.equal(bridged.message, relayed.message);
    assert.equal(relayed.message, `The MCP server ${MCP} did not answer in time.`);
  });

  test("a URL is spelled the same whichever face names it", () => {
    assert.equal(
      unreachable(mcpServer("http://127.0.0.1:9"), errno("ECONNREFUSED")).details?.upstream,
      "http://127.0.0.1:9/",
    );
  });
});

describe("answers that are failures", () => {
  test("5xx: the server has a problem, with what it said; one full stop", () => {
    const error = serverError(mcpServer(MCP), 503, "Service Unavailable.");
    assert.equal(error.code, "UPSTREAM_ERROR");
    assert.equal(error.message, `The MCP server ${MCP} answered HTTP 503: Service Unavailable.`);
    assert.equal(error.details?.upstreamStatus, 503);
  });

  test("a broken stream and a plain refusal say so", () => {
    assert.equal(
      brokeOff(mcpServer(MCP), errno("UND_ERR_SOCKET")).message,
      `The MCP server ${MCP} broke off the response: the connection was closed.`,
    );
    const error = refused(mcpServer(MCP), 404, "Not Found");
    assert.equal(error.message, `The MCP server ${MCP} refused the request with HTTP 404: Not Found.`);
    assert.match(error.hint ?? "", /MCP endpoint/);
  });
});

describe("sign-in: which server did not answer", () => {
  test("the MCP server for its own URL and its resource metadata; the authorization server for the rest", () => {
    assert.equal(partyOfRequest(MCP, MCP).kind, "mcp-server");
    assert.equal(
      partyOfRequest("http://127.0.0.1:14999/.well-known/oauth-protected-resource/mcp", MCP).kind,
      "mcp-server",
    );
    assert.equal(partyOfRequest("http://127.0.0.1:14999/.well-known/oauth-protected-resource", MCP).kind, "mcp-server");
    assert.equal(partyOfRequest("http://127.0.0.1:14999/token", MCP).kind, "authorization-server");
    assert.equal(
      partyOfRequest("http://127.0.0.1:15000/.well-known/oauth-authorization-server", MCP).kind,
      "authorization-server",
    );
  });

  test("an MCP server that is down is named as the MCP server, not its authorization server (exit 4: NETWORK)", async () => {
    const fetchFn = secureFetch(async () => {
      throw fetchFailed("ECONNREFUSED");
    }, false);
    const failure = await fetchFn("http://127.0.0.1:14999/.well-known/oauth-protected-resource/mcp").catch((e) => e);
    assert.ok(failure instanceof TypeError, "the SDK's discovery tells network failures apart by TypeError");
    const error = authError(failure, MCP);
    assert.equal(error.code, "NETWORK");
    assert.equal(error.message, `The MCP server ${MCP} could not be reached: connection refused.`);
  });

  test("an authorization server that is down is named by its origin, with the MCP server it serves", async () => {
    const fetchFn = secureFetch(async () => {
      throw fetchFailed("ECONNREFUSED");
    }, false);
    const failure = await fetchFn("http://127.0.0.1:15000/token").catch((e) => e);
    const error = authError(failure, MCP);
    assert.equal(error.code, "NETWORK");
    assert.equal(
      error.message,
      "The authorization server http://127.0.0.1:15000 could not be reached: connection refused.",
    );
    assert.ok(error.hint?.includes(MCP));
    assert.deepEqual(error.details, { upstream: MCP, authorizationServer: "http://127.0.0.1:15000" });
    assert.equal(
      unreachable(authorizationServer("http://127.0.0.1:15000/token", MCP), errno("ECONNREFUSED")).message,
      error.message,
    );
  });

  test("a failure of unknown origin blames neither server alone", () => {
    const error = authError(fetchFailed("ECONNREFUSED"), MCP);
    assert.equal(error.code, "NETWORK");
    assert.equal(error.message, signInServersUnreachable(MCP, fetchFailed("ECONNREFUSED")).message);
    assert.match(error.message, /MCP server .* or its authorization server could not be reached: connection refused/);
  });
});
