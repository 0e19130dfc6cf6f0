import type { JSONRPCRequest, JSONRPCResponse } from "@modelcontextprotocol/client";
import type { JsonRpcErrorObject } from "../upstream-error.ts";
import type { BridgedCall } from "./bridged-call.ts";
import { declares, inputCapabilityOf } from "./input-required-rounds.ts";
import type { LegacySession } from "./legacy-session.ts";
import { INPUT_REQUIRED_METHODS } from "./modern-results.ts";
import { ERA_ERROR } from "./protocol-versions.ts";

/**
 * Where an upstream server-to-client request goes: the call it is queued on, or the error that refuses it (plus,
 * when the only running call's client lacks the capability, that call, which then ends with -32021).
 */
export type ServerRequestRoute =
  | { call: BridgedCall }
  | { refusal: JsonRpcErrorObject; undeclared?: { call: BridgedCall; capability: string } };

/**
 * Which running call an upstream server request belongs to.
 *
 * The 2025 wire does not say which call a server request belongs to (the client transport does not report the
 * stream it arrived on). With one call that can take input in flight, that call is it; with several, the oldest one
 * whose client declared the capability and waits for an answer now gets the `input_required` (else the oldest one
 * parked), and the answer still reaches the upstream request that asked (only the call that shows the question may
 * be the wrong one).
 */
export function routeServerRequest(
  calls: Iterable<BridgedCall>,
  session: LegacySession,
  request: JSONRPCRequest,
): ServerRequestRoute {
  const capability = inputCapabilityOf(request.method);
  if (capability === undefined) {
    return { refusal: { code: ERA_ERROR.methodNotFound, message: `${request.method} is not relayed to this client.` } };
  }
  const candidates = [...calls].filter(
    (call) => call.session === session && call.outcome === undefined && INPUT_REQUIRED_METHODS.has(call.method),
  );
  if (candidates.length === 0) {
    return {
      refusal: {
        code: ERA_ERROR.methodNotFound,
        message: `The client can only be asked for ${capability} during tools/call, prompts/get or resources/read.`,
      },
    };
  }
  // A call parked on its own question waits for the client's retry; a new question more likely belongs to a
  // call whose client is waiting for it now.
  const able = candidates.filter((candidate) => declares(candidate.envelope.capabilities, request));
  const call = able.find((candidate) => candidate.waiting !== undefined) ?? able[0];
  if (!call) {
    const refusal = {
      code: ERA_ERROR.methodNotFound,
      message: `The MCP client did not declare the ${capability} capability.`,
    };
    // With one call in flight the question is its own: the 2026-07-28 answer to a request that needs an
    // undeclared capability is -32021 naming it (basic/lifecycle), not whatever the server makes of the refusal.
    const only = candidates.length === 1 ? candidates[0] : undefined;
    return only?.waiting ? { refusal, undeclared: { call: only, capability } } : { refusal };
  }
  return { call };
}

/** The -32021 answer that ends `call` when its server asked for a capability the client did not declare. */
export function missingCapabilityAnswer(call: BridgedCall, capability: string): JSONRPCResponse {
  return {
    jsonrpc: "2.0",
    id: call.upstreamId,
    error: {
      code: ERA_ERROR.missingClientCapability,
      message: `The server needs the ${capability} capability for ${call.method}, which the client did not declare in _meta.`,
      data: { requiredCapabilities: { [capability]: {} } },
    },
  } as JSONRPCResponse;
}
