import { randomUUID } from "node:crypto";
import type { JSONRPCRequest, JSONRPCResponse, RequestId, TransportSendOptions } from "@modelcontextprotocol/client";
import { digestParams } from "./input-required-state.ts";
import type { LegacySession } from "./legacy-session.ts";
import type { ModernEnvelope } from "./modern-results.ts";

/** The client request waiting for a call's answer now. */
export type Waiter = {
  id: RequestId;
  resolve: () => void;
  reject: (error: unknown) => void;
  options: TransportSendOptions | undefined;
};

/** One upstream request of the client's, from its first leg until its final answer went out. */
export interface BridgedCall {
  readonly key: string;
  readonly method: string;
  readonly params: Record<string, unknown> | undefined;
  readonly digest: string;
  readonly upstreamId: string;
  readonly session: LegacySession;
  readonly envelope: ModernEnvelope;
  waiting: Waiter | undefined;
  /** Server requests put to the client (in an `input_required`) and not answered yet, by input key. */
  asked: Map<string, JSONRPCRequest>;
  /** Server requests that arrived and wait for the next `input_required`. */
  queued: JSONRPCRequest[];
  inputSeq: number;
  rounds: number;
  /** The live requestState's nonce (single use) while parked. */
  nonce: string | undefined;
  expiresAt: number;
  timer: NodeJS.Timeout | undefined;
  flushing: boolean;
  /** The upstream's final answer, or why there will be none. */
  outcome: JSONRPCResponse | { failure: unknown } | undefined;
}

/** A new call record for the client's `request`, sent upstream as `upstreamId`. */
export function createBridgedCall(
  request: JSONRPCRequest,
  session: LegacySession,
  envelope: ModernEnvelope,
  upstreamId: string,
): BridgedCall {
  const params = request.params as Record<string, unknown> | undefined;
  return {
    key: randomUUID(),
    method: request.method,
    params,
    digest: digestParams(params),
    upstreamId,
    session,
    envelope,
    waiting: undefined,
    asked: new Map(),
    queued: [],
    inputSeq: 0,
    rounds: 0,
    nonce: undefined,
    expiresAt: 0,
    timer: undefined,
    flushing: false,
    outcome: undefined,
  };
}
