// The identity layer of the HTTP face (`serve --identity`), as the app layer uses it.
export { type Caller, currentCaller, principalHash, runAsCaller } from "./caller.ts";
export { createIdentityResolver, identityGate } from "./identity-gate.ts";
export type { IdentityResolver } from "./identity-resolver.ts";
export { PerUserAuth, type UserAuth, type UserState } from "./per-user-auth.ts";
export { PublicOrigin } from "./public-origin.ts";
export { SessionBinding } from "./session-binding.ts";
