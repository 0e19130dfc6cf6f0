/**
 * Encryption at rest of store records: AES-256-GCM with a 32-byte store key, each record sealed into an envelope
 * that names the key by a short hash (its key id, never the key) and is authenticated together with the store key
 * and kind it is stored under, so a record copied to another key or kind fails to open instead of being believed.
 * The format is documented in docs/storage.md ("Encryption at rest").
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { inspect } from "node:util";
import { ProxyError } from "../lib/errors.ts";
import type { RecordKind } from "./token-store.ts";

/** The envelope's algorithm name (JOSE's name for AES-256-GCM). */
export const SEALED_ALGORITHM = "A256GCM";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Hex characters of the key id: 48 bits, plenty to tell a handful of keys apart, useless for finding a key. */
const KEY_ID_LENGTH = 12;

/**
 * A store key: 32 random bytes. The bytes stay inside this object; it prints, logs and serialises as its id only,
 * so a RuntimeOptions object holding one can be logged without leaking it.
 */
export class StoreKey {
  /** Short hash of the key (12 hex characters): what envelopes and messages name. */
  readonly id: string;
  readonly #bytes: Buffer;

  constructor(bytes: Uint8Array) {
    if (bytes.length !== KEY_BYTES) {
      throw new ProxyError("USAGE", `A store key is ${KEY_BYTES} bytes; this one is ${bytes.length}.`, {
        hint: "Generate one with: openssl rand -base64 32",
      });
    }
    this.#bytes = Buffer.from(bytes);
    this.id = storeKeyId(this.#bytes);
  }

  /** @internal For the cipher below only. */
  bytes(): Buffer {
    return this.#bytes;
  }

  /** Whether two keys are the same key (constant time). */
  equals(other: StoreKey): boolean {
    return timingSafeEqual(this.#bytes, other.#bytes);
  }

  toString(): string {
    return `[store key ${this.id}]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** The key id: the first 12 hex characters of SHA-256 over a label and the key. */
export function storeKeyId(bytes: Uint8Array): string {
  return createHash("sha256")
    .update("mcp-u2m-proxy store key id\0")
    .update(bytes)
    .digest("hex")
    .slice(0, KEY_ID_LENGTH);
}

/**
 * A store key written as text: 64 hex characters, or the base64 (standard or URL-safe, padding optional) of 32
 * bytes, e.g. `openssl rand -base64 32`. Surrounding whitespace is ignored.
 *
 * @param source where it came from, for the message ("MCP_PROXY_STORE_KEY", "the key file /path")
 * @throws ProxyError USAGE naming the source (never the text) when it is not a 32-byte key.
 */
export function parseStoreKey(text: string, source: string): StoreKey {
  const trimmed = text.trim();
  let bytes: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) bytes = Buffer.from(trimmed, "hex");
  else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(trimmed)) bytes = Buffer.from(trimmed, "base64");
  if (bytes?.length !== KEY_BYTES) {
    throw new ProxyError(
      "USAGE",
      `${source} is not a store key: expected 32 bytes as 64 hex characters or 44 base64 characters (got ${trimmed.length} characters).`,
      { hint: "Generate a key with: openssl rand -base64 32 (keep it somewhere safe: without it the store is lost)." },
    );
  }
  return new StoreKey(bytes);
}

/** A new random store key. */
export function generateStoreKey(): StoreKey {
  return new StoreKey(randomBytes(KEY_BYTES));
}

/** What an encrypted record looks like in the store (besides `version` and `revision`, set as for every record). */
export interface SealedBox {
  alg: typeof SEALED_ALGORITHM;
  /** The id of the key it was sealed with. */
  kid: string;
  /** base64url: 12-byte nonce, 16-byte tag, ciphertext. */
  iv: string;
  tag: string;
  data: string;
}

export interface SealedEnvelope {
  version: number;
  revision?: number;
  sealed: SealedBox;
}

/**
 * Whether a stored value is an envelope: an object with a `sealed` object. Backends treat such a value as opaque
 * (never validated as a record, never moved aside as corrupt); only a holder of the key can tell more.
 */
export function isSealedEnvelope(value: unknown): value is SealedEnvelope {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const sealed = (value as { sealed?: unknown }).sealed;
  return typeof sealed === "object" && sealed !== null && !Array.isArray(sealed);
}

/** Field problems of an envelope about to be stored (names only); empty when it is well formed. */
export function envelopeProblems(value: SealedEnvelope): string[] {
  const box = value.sealed as unknown as Record<string, unknown>;
  const problems: string[] = [];
  if (!Number.isInteger(value.version) || value.version < 1) problems.push("version: expected an integer ≥ 1");
  if (box.alg !== SEALED_ALGORITHM) problems.push(`sealed.alg: expected ${SEALED_ALGORITHM}`);
  for (const field of ["kid", "iv", "tag", "data"] as const) {
    if (typeof box[field] !== "string" || box[field] === "") problems.push(`sealed.${field}: expected a string`);
  }
  return problems;
}

/**
 * The additional authenticated data: the record's place in the store (its store key and kind) and the key id, so
 * an envelope opens only where it was written.
 */
function associatedData(storeKey: string, kind: RecordKind, kid: string): Buffer {
  return Buffer.from(`mcp-u2m-proxy sealed record\0${storeKey}\0${kind}\0${kid}`, "utf8");
}

/** Seals `plaintext` (a record as JSON) for the record (storeKey, kind), with a fresh random nonce. */
export function sealRecord(key: StoreKey, storeKey: string, kind: RecordKind, plaintext: string): SealedBox {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.bytes(), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(storeKey, kind, key.id));
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return {
    alg: SEALED_ALGORITHM,
    kid: key.id,
    iv: iv.toString("base64url"),
    tag: cipher.getAuthTag().toString("base64url"),
    data: data.toString("base64url"),
  };
}

/**
 * Opens an envelope sealed for (storeKey, kind) with `key` (whose id the caller matched to `box.kid`). Undefined
 * when it does not authenticate: modified, truncated, or sealed for another record (a copied file).
 */
export function openRecord(key: StoreKey, storeKey: string, kind: RecordKind, box: SealedBox): string | undefined {
  try {
    const iv = Buffer.from(box.iv, "base64url");
    const tag = Buffer.from(box.tag, "base64url");
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return undefined;
    const decipher = createDecipheriv("aes-256-gcm", key.bytes(), iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(storeKey, kind, box.kid));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(box.data, "base64url")), decipher.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}
