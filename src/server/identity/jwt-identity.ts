import type { JWTPayload, JWTVerifyGetKey } from "jose";
import type { IdentityMode } from "../../config/identity-options.ts";
import { isAdmin } from "./caller.ts";
import type { IdentityResolver } from "./identity-resolver.ts";
import { singleHeader } from "./identity-resolver.ts";

/**
 * Signature algorithms an identity-aware front signs with (Cloudflare Access RS256, Google IAP ES256, Pomerium
 * ES256). Only asymmetric ones: a symmetric key would have to be shared, and `none` is never a signature.
 */
export const JWT_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
];

type JwtMode = Extract<IdentityMode, { kind: "jwt" }>;
type Jose = typeof import("jose");

let jose: Promise<Jose> | undefined;
/** jose is loaded on the first assertion: it is about 8 MiB of memory that every other mode would carry for nothing. */
function loadJose(): Promise<Jose> {
  jose ??= import("jose");
  return jose;
}

/**
 * `--identity jwt:JWKS_URL`: the front signs an assertion in `--identity-header`; it is verified with jose against
 * the front's JWKS (fetched on first use, cached, fetched again for an unknown key id): signature, an allowed
 * algorithm, `exp` (required), `nbf`, the audience and, when given, the issuer. The user is `--identity-claim`.
 * `keys` replaces the remote key set (tests of the verifier alone).
 */
export function jwtIdentity(mode: JwtMode, admins: readonly string[], keys?: JWTVerifyGetKey): IdentityResolver {
  let keySet: JWTVerifyGetKey | undefined = keys;
  return {
    mode: "jwt",
    identityHeaders: [mode.header],
    trustsForwardedHost: true,
    resolve: async (req) => {
      const token = singleHeader(req, mode.header);
      if (token === undefined) {
        return { refused: `The request has no ${mode.header} header: the front in front of this proxy signs one.` };
      }
      const { createRemoteJWKSet, errors, jwtVerify } = await loadJose();
      keySet ??= createRemoteJWKSet(new URL(mode.jwksUrl), { timeoutDuration: 10_000, cooldownDuration: 30_000 });
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keySet, {
          algorithms: JWT_ALGORITHMS,
          audience: mode.audience,
          ...(mode.issuer ? { issuer: mode.issuer } : {}),
          requiredClaims: ["exp"],
          clockTolerance: 30,
        }));
      } catch (error) {
        return { refused: `The ${mode.header} assertion was refused: ${whyRefused(errors, error)}.` };
      }
      const value = payload[mode.claim];
      const id = typeof value === "string" ? value.trim() : typeof value === "number" ? String(value) : "";
      if (id === "") return { refused: `The ${mode.header} assertion has no ${mode.claim} claim naming the user.` };
      const email = typeof payload.email === "string" ? payload.email : undefined;
      const username = typeof payload.preferred_username === "string" ? payload.preferred_username : undefined;
      return {
        id,
        principal: `jwt:${mode.issuer ?? payload.iss ?? ""}:${id}`,
        label: email ?? username ?? id,
        email,
        username,
        admin: isAdmin(admins, { id, email, username }),
      };
    },
  };
}

/** Why jose refused an assertion, in words (never the assertion itself). */
function whyRefused(errors: Jose["errors"], error: unknown): string {
  if (error instanceof errors.JWTExpired) return "it has expired";
  if (error instanceof errors.JWTClaimValidationFailed)
    return `its ${error.claim} claim is not what this proxy expects`;
  if (error instanceof errors.JOSEAlgNotAllowed) return "it is not signed with an allowed algorithm";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "its signature does not verify";
  if (error instanceof errors.JWKSNoMatchingKey) return "no key of the front's key set matches it";
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JOSEError) {
    return error.code === "ERR_JWKS_TIMEOUT" ? "the front's key set could not be fetched in time" : error.code;
  }
  return "the front's key set could not be fetched";
}
