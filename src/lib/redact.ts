import { maskKnownSecrets } from "./known-secrets.ts";

export {
  maskKnownSecrets,
  maskKnownSecretsDeep,
  rememberHeaderSecrets,
  rememberSecret,
  rememberSecretsIn,
} from "./known-secrets.ts";

/**
 * Redaction of secrets before anything is logged or printed. Keys are matched case-insensitively;
 * strings that look like bearer headers or JWTs are masked wherever they appear, and so is every secret the
 * process holds, by value (known-secrets.ts).
 */
const SECRET_KEYS = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "access_token",
  "refresh_token",
  "id_token",
  "code",
  "code_verifier",
  "client_secret",
  "client_assertion",
  "password",
  "state",
  "x-api-key",
  "mcp-proxy-api-key",
  "registration_access_token",
]);

const MASK = "[redacted]";

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase());
}

/**
 * Masks the secrets this process holds (by value, in their encoded forms too), bearer credentials, JWT-shaped
 * strings and secret query parameters inside free text.
 */
export function redactText(text: string): string {
  return maskKnownSecrets(text)
    .replace(/(?<![\w:])(Bearer|Basic|DPoP)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${MASK}`)
    .replace(/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, MASK)
    .replace(
      /([?&](?:code|state|access_token|refresh_token|id_token|code_verifier|client_secret)=)[^&#\s"']*/gi,
      `$1${MASK}`,
    )
    .replace(
      /("(?:access_token|refresh_token|id_token|code|code_verifier|client_secret|password)"\s*:\s*")[^"]*"/gi,
      `$1${MASK}"`,
    );
}

/** Deep copy with every secret-named key masked and every string passed through {@link redactText}. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return "[…]";
  if (typeof value === "string") return redactText(value);
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value instanceof URL) return redactText(value.href);
  if (value instanceof Error) return redactText(value.message);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = isSecretKey(key) && item !== undefined && item !== null ? MASK : redact(item, depth + 1);
    }
    return out;
  }
  return value;
}
