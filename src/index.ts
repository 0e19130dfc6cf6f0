// The package's programmatic API. The CLI (src/main.ts) is built on the same pieces.
export type { AuthClient, AuthStatus, CallbackResult, ChallengeOutcome, SignInHandle } from "./auth/auth-client.ts";
export { createAuthorizedFetch, type FetchLike } from "./auth/authorized-fetch.ts";
export { createUpstreamAuth, UpstreamAuth, type UpstreamAuthDeps } from "./auth/upstream-auth.ts";
export type { RuntimeOptions, UpstreamOptions } from "./config/options.ts";
export { type ErrorCode, ProxyError } from "./lib/errors.ts";
export { OAuthManager, type OAuthManagerOptions } from "./oauth-manager.ts";
export { FileTokenStore } from "./store/file-store.ts";
export { MemoryTokenStore } from "./store/memory-store.ts";
export { generateStoreKey, parseStoreKey, StoreKey } from "./store/record-cipher.ts";
export { type SealedStoreOptions, SealedTokenStore } from "./store/sealed-store.ts";
export { canonicalServerUrl, storeKey } from "./store/store-key.ts";
export type { RecordKind, TokenStore } from "./store/token-store.ts";
