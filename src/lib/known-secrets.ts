/**
 * The secrets this process holds — access and refresh tokens, client secrets, authorization codes, PKCE
 * verifiers, static credential headers, the inbound API key — remembered by value where they enter the process,
 * so that redaction masks them wherever they turn up, also in text an upstream echoed back (an opaque token has no
 * shape a pattern could recognise). Each value is also matched in the forms it travels in: JSON-escaped,
 * percent-encoded (URI and form style, either hex case), and base64/base64url, whole or at any alignment inside a
 * longer base64 text.
 *
 * Bounded: the most recent {@link MAX_REMEMBERED_SECRETS} values are kept (older tokens have expired). Values
 * shorter than {@link MIN_SECRET_LENGTH} characters are not remembered: masking them would also mask ordinary words.
 */
export const MAX_REMEMBERED_SECRETS = 256;
export const MIN_SECRET_LENGTH = 8;
/** Longer values are not secrets this proxy handles (tokens are a few kB at most). */
const MAX_SECRET_LENGTH = 64 * 1024;
/** A truncated text ending in this many characters of a secret (or more) has them masked. */
const MIN_TAIL = 6;
const MASK = "[redacted]";

/** Value → the forms it is matched in; Map order is age (oldest first). */
const remembered = new Map<string, string[]>();
/** Forms by their first three characters, longest first; rebuilt after a change. */
let index: Map<number, string[]> | undefined;

/** Remembers one secret value (ignored unless a string of at least MIN_SECRET_LENGTH characters). */
export function rememberSecret(value: unknown): void {
  if (typeof value !== "string" || value.length < MIN_SECRET_LENGTH || value.length > MAX_SECRET_LENGTH) return;
  const forms = remembered.get(value);
  if (forms) {
    // Seen again: now the most recent, same forms (the index stays valid).
    remembered.delete(value);
    remembered.set(value, forms);
    return;
  }
  remembered.set(value, formsOf(value));
  for (const oldest of remembered.keys()) {
    if (remembered.size <= MAX_REMEMBERED_SECRETS) break;
    remembered.delete(oldest);
  }
  index = undefined;
}

/** Field names whose string values are secrets, in OAuth responses, client information and stored records. */
const SECRET_FIELDS = new Set([
  "access_token",
  "refresh_token",
  "id_token",
  "client_secret",
  "registration_access_token",
  "code",
  "code_verifier",
  "client_assertion",
  "password",
]);

/** Remembers the secret-named fields of `value` (tokens, client information, store records); returns `value`. */
export function rememberSecretsIn<T>(value: T, depth = 0): T {
  if (!value || typeof value !== "object" || depth > 4) return value;
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === "string") {
      if (SECRET_FIELDS.has(key)) rememberSecret(item);
    } else if (item && typeof item === "object") {
      rememberSecretsIn(item, depth + 1);
    }
  }
  return value;
}

/** Header names whose values are credentials (besides the usual ones, anything naming a key, token or secret). */
const CREDENTIAL_HEADER = /^(?:authorization|proxy-authorization|cookie)$|auth|token|key|secret|session|password/i;

/** Whether a header named `name` carries a credential (its value is never shown). */
export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADER.test(name);
}

/**
 * Remembers the credential values among static headers (--header): the whole value and, for `Scheme credential`,
 * the credential (and a Basic credential's password).
 */
export function rememberHeaderSecrets(headers: Record<string, string> | undefined): void {
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!isCredentialHeader(name)) continue;
    rememberSecret(value);
    const scheme = /^([A-Za-z][\w-]*)\s+(\S.*)$/.exec(value.trim());
    if (!scheme) continue;
    const credential = scheme[2] as string;
    rememberSecret(credential);
    if (scheme[1]?.toLowerCase() === "basic") {
      const decoded = Buffer.from(credential, "base64").toString("utf8");
      rememberSecret(decoded.slice(decoded.indexOf(":") + 1));
    }
  }
}

/**
 * `text` with every remembered secret, in any of its forms, replaced by "[redacted]". With `truncated` (text cut
 * from a longer one), a tail that is the start of a secret is masked too.
 */
export function maskKnownSecrets(text: string, options: { truncated?: boolean } = {}): string {
  if (remembered.size === 0 || text.length < MIN_TAIL) return text;
  const byPrefix = buildIndex();
  let out = "";
  let copied = 0;
  let i = 0;
  scan: while (i + MIN_SECRET_LENGTH <= text.length) {
    const candidates = byPrefix.get(prefixKey(text, i));
    if (candidates) {
      for (const form of candidates) {
        if (text.startsWith(form, i)) {
          out += text.slice(copied, i) + MASK;
          i += form.length;
          copied = i;
          continue scan;
        }
      }
    }
    i++;
  }
  if (options.truncated) {
    for (let at = Math.max(copied, text.length - MAX_SECRET_LENGTH); at + MIN_TAIL <= text.length; at++) {
      const tail = text.slice(at);
      if (byPrefix.get(prefixKey(text, at))?.some((form) => form.startsWith(tail))) {
        out += text.slice(copied, at) + MASK;
        copied = text.length;
        break;
      }
    }
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** A deep copy of `value` with {@link maskKnownSecrets} applied to every string (for error details). */
export function maskKnownSecretsDeep<T>(value: T, depth = 0): T {
  if (remembered.size === 0) return value;
  if (typeof value === "string") return maskKnownSecrets(value) as T;
  if (!value || typeof value !== "object" || depth > 8) return value;
  if (Array.isArray(value)) return value.map((item) => maskKnownSecretsDeep(item, depth + 1)) as T;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = maskKnownSecretsDeep(item, depth + 1);
  return out as T;
}

/** Forgets every remembered secret (sign-out of everything; tests). */
export function forgetRememberedSecrets(): void {
  remembered.clear();
  index = undefined;
}

function formsOf(value: string): string[] {
  const forms = new Set<string>([value]);
  const json = JSON.stringify(value).slice(1, -1);
  forms.add(json);
  forms.add(json.replaceAll("/", "\\/"));
  const uri = encodeURIComponent(value);
  forms.add(uri);
  forms.add(uri.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()));
  forms.add(new URLSearchParams({ v: value }).toString().slice(2));
  const bytes = Buffer.from(value, "utf8");
  const base64 = bytes.toString("base64");
  forms.add(base64);
  forms.add(base64.replace(/=+$/, ""));
  forms.add(bytes.toString("base64url"));
  // Inside a longer base64 text the value starts at one of three byte offsets. Only the 4-character groups made of
  // its own bytes are the same whatever surrounds it: those are matched for each offset, in both alphabets.
  for (const shift of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString("base64");
    const inner = encoded.slice(shift === 0 ? 0 : 4, Math.floor((shift + bytes.length) / 3) * 4);
    forms.add(inner);
    forms.add(inner.replaceAll("+", "-").replaceAll("/", "_"));
  }
  return [...forms].filter((form) => form.length >= MIN_SECRET_LENGTH);
}

function buildIndex(): Map<number, string[]> {
  if (index) return index;
  index = new Map();
  for (const forms of remembered.values()) {
    for (const form of forms) {
      const key = prefixKey(form, 0);
      const bucket = index.get(key);
      if (bucket) bucket.push(form);
      else index.set(key, [form]);
    }
  }
  for (const bucket of index.values()) bucket.sort((a, b) => b.length - a.length);
  return index;
}

/** The first three UTF-16 units at `at` as one number (a Map key without a string per position). */
function prefixKey(text: string, at: number): number {
  return text.charCodeAt(at) * 2 ** 32 + text.charCodeAt(at + 1) * 2 ** 16 + text.charCodeAt(at + 2);
}
