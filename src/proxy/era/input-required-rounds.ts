import type { JSONRPCMessage, JSONRPCRequest } from "@modelcontextprotocol/client";
import { describeError } from "../../lib/errors.ts";
import type { Logger } from "../../lib/logger.ts";
import type { JsonRpcErrorObject } from "../upstream-error.ts";
import type { StateRefusal } from "./input-required-state.ts";
import type { LegacySession } from "./legacy-session.ts";
import { ERA_ERROR } from "./protocol-versions.ts";

/**
 * The pieces of one `input_required` round of Bridge B (2026-07-28 basic/patterns/mrtr) that need no call
 * bookkeeping: which client capability an upstream server request needs, the `inputRequests` shown to the client,
 * passing the client's `inputResponses` to the parked upstream requests, and the errors a refused retry gets.
 */

/** The client capability per input request method. */
const INPUT_CAPABILITY: Readonly<Record<string, string>> = {
  "sampling/createMessage": "sampling",
  "elicitation/create": "elicitation",
  "roots/list": "roots",
};

export function inputCapabilityOf(method: string): string | undefined {
  return INPUT_CAPABILITY[method];
}

/** Whether the request's client declared what an upstream server request needs (MRTR: only ask for that). */
export function declares(capabilities: Record<string, unknown>, request: JSONRPCRequest): boolean {
  const capability = INPUT_CAPABILITY[request.method];
  if (capability === undefined || !capabilities[capability]) return false;
  if (request.method !== "elicitation/create") return true;
  const elicitation = capabilities.elicitation as Record<string, unknown>;
  const mode = (request.params as { mode?: unknown } | undefined)?.mode;
  if (mode === "url") return elicitation.url !== undefined;
  // An empty `elicitation: {}` is form mode.
  return Object.keys(elicitation).length === 0 || elicitation.form !== undefined;
}

/** The `inputRequests` of an `input_required` result: the parked server requests by input key. */
export function inputRequestsOf(asked: Map<string, JSONRPCRequest>): Record<string, unknown> {
  return Object.fromEntries(
    [...asked].map(([key, request]) => [key, { method: request.method, params: request.params ?? {} }]),
  );
}

/**
 * Answers the parked upstream requests the client's `inputResponses` cover, and forgets them; the ones not covered
 * stay asked (they are put to the client again in the next round).
 */
export function passInputResponses(
  call: { asked: Map<string, JSONRPCRequest>; session: LegacySession },
  responses: unknown,
  logger: Logger,
): void {
  const given = responses && typeof responses === "object" ? (responses as Record<string, unknown>) : {};
  for (const [key, asked] of [...call.asked]) {
    const result = given[key];
    if (!result || typeof result !== "object") continue;
    call.asked.delete(key);
    call.session.send({ jsonrpc: "2.0", id: asked.id, result } as JSONRPCMessage).catch((error: unknown) => {
      logger.debug(`could not pass an input response upstream: ${describeError(error)}`);
    });
  }
}

const REFUSAL_TEXT: Readonly<Record<StateRefusal | "replayed", string>> = {
  malformed: "is not a requestState this proxy issued",
  tampered: "failed its integrity check (it was altered or issued by another proxy process)",
  "other-connection": "was issued to another client connection",
  expired: "has expired",
  "other-request": "was issued for a different request",
  replayed: "was already used (or its call has ended)",
};

/** The error a retry gets when its `requestState` is refused: what was wrong, and what to do instead. */
export function refusedStateError(reason: StateRefusal | "replayed", method: string): JsonRpcErrorObject {
  return {
    code: ERA_ERROR.invalidParams,
    message: `The requestState ${REFUSAL_TEXT[reason]}. Call the tool again: send ${method} without requestState and inputResponses.`,
  };
}

/** The error a call gets when its server keeps asking for input. */
export function tooManyRounds(upstreamName: string, maxRounds: number, method: string): JsonRpcErrorObject {
  return {
    code: ERA_ERROR.invalidRequest,
    message: `The upstream ${upstreamName} asked for input more than ${maxRounds} times during ${method}; the call was stopped.`,
  };
}
