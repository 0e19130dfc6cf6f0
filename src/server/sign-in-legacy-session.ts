import type { JSONRPCMessage } from "@modelcontextprotocol/client";
import type { ProxyError } from "../lib/errors.ts";
import type { LegacySseServerTransport } from "../proxy/legacy-sse-server-transport.ts";
import { toJsonRpcError } from "../proxy/upstream-error.ts";
import { initializeDeclaresUrlElicitation } from "../proxy/url-elicitation.ts";

/**
 * A legacy HTTP+SSE client (`GET /sse`) whose user must sign in before the upstream can be reached: its stream
 * needs the token, and an HTTP error on the GET reaches no JSON-RPC request, so the client would only see a failed
 * connection. Instead the proxy serves the session itself, upstream untouched: every request the client POSTs is
 * answered on the stream with the sign-in error (its message and `data.signInUrl` name the URL), as the spec's
 * URLElicitationRequiredError (-32042) when the client's `initialize` declared URL-mode elicitation (2025-11-25),
 * exactly as `/mcp` answers. Notifications and responses are dropped. Once signed in, the client's next `GET /sse`
 * is relayed (or bridged) as usual.
 */
export function answerWithSignIn(downstream: LegacySseServerTransport, error: ProxyError, upstream: string): void {
  let urlElicitation = false;
  downstream.onmessage = (message: JSONRPCMessage) => {
    if (!("method" in message) || !("id" in message) || message.id === undefined) return;
    if (message.method === "initialize") urlElicitation = initializeDeclaresUrlElicitation(message);
    void downstream.send({
      jsonrpc: "2.0",
      id: message.id,
      error: toJsonRpcError(error, upstream, { urlElicitation }),
    });
  };
}
