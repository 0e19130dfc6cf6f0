/**
 * The `state` of a browser sign-in. Besides 32 random bytes (its secret part, RFC 6749 §10.12) it starts with a
 * short tag of the upstream's store key, so a callback that reaches a replica which did not start the sign-in can
 * still be handed to the right upstream when one proxy serves several: the router matches the tag, and the upstream
 * then takes the flow from the shared store (which alone decides whether the state is valid). The tag says which
 * upstream, never who: every user of an upstream shares it.
 */
import { createHash, randomBytes } from "node:crypto";

const TAG_LENGTH = 8;

function tagOf(upstreamKey: string): string {
  return createHash("sha256").update(upstreamKey).digest("base64url").slice(0, TAG_LENGTH);
}

/** A new state for a sign-in to the upstream whose store key is `upstreamKey`. */
export function newSignInState(upstreamKey: string): string {
  return `${tagOf(upstreamKey)}.${randomBytes(32).toString("base64url")}`;
}

/** Whether `state` has the shape newSignInState gives for `upstreamKey` (not whether any sign-in issued it). */
export function isSignInStateOf(state: string, upstreamKey: string): boolean {
  const dot = state.indexOf(".");
  return dot === TAG_LENGTH && state.slice(0, dot) === tagOf(upstreamKey) && state.length > dot + 1;
}
