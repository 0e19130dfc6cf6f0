import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";

/**
 * The `requestState` the proxy mints when it turns a 2025 server's server-to-client requests into a 2026-07-28
 * `input_required` result (2026-07-28 basic/patterns/mrtr §Server Requirements): the client echoes it on its retry,
 * so it is attacker-controlled input. It is an HMAC-SHA256-sealed payload naming the parked upstream call, bound to
 * the connection (the bridge instance), the request (method and a digest of its parameters), a short expiry, and a
 * nonce that the bridge accepts once (single use is enforced server-side, as MRTR requires).
 *
 * Format: `base64url(JSON payload) "." base64url(HMAC-SHA256(secret, payload bytes))`. The payload holds no
 * secrets and no user data (ids, a digest, a time), but it is still never logged.
 */

/** A process-wide key, random at start-up: state never outlives the process that parks the call. */
const PROCESS_SECRET = randomBytes(32);

export interface SealedState {
  /** The connection (bridge instance) the state was issued to. */
  bridge: string;
  /** The parked upstream call. */
  call: string;
  /** Single-use nonce: the parked call accepts only the latest one it issued. */
  nonce: string;
  method: string;
  /** sha256 of the request's parameters without `_meta`, `inputResponses` and `requestState`. */
  digest: string;
  /** Expiry, in ms since the epoch (the bridge's clock). */
  expiresAt: number;
}

/** Why a presented `requestState` was refused. */
export type StateRefusal = "malformed" | "tampered" | "other-connection" | "expired" | "other-request";

export class InputRequiredStateSealer {
  private readonly secret: Uint8Array;

  constructor(secret?: Uint8Array) {
    this.secret = secret ?? PROCESS_SECRET;
  }

  seal(state: Omit<SealedState, "nonce">): { token: string; nonce: string } {
    const nonce = randomUUID();
    const payload = Buffer.from(
      JSON.stringify({
        v: 1,
        b: state.bridge,
        c: state.call,
        n: nonce,
        m: state.method,
        d: state.digest,
        e: state.expiresAt,
      }),
    );
    return { token: `${payload.toString("base64url")}.${this.mac(payload).toString("base64url")}`, nonce };
  }

  /**
   * Verifies the MAC first (nothing of an unauthenticated payload is trusted), then the binding to this
   * connection, the expiry and the request. Single use is the caller's check (it knows the live nonce).
   */
  open(
    token: unknown,
    expected: { bridge: string; method: string; digest: string; now: number },
  ): { ok: true; state: SealedState } | { ok: false; reason: StateRefusal } {
    if (typeof token !== "string" || token.length > 4096) return { ok: false, reason: "malformed" };
    const [payloadPart, macPart, extra] = token.split(".");
    if (!payloadPart || !macPart || extra !== undefined) return { ok: false, reason: "malformed" };
    const payload = Buffer.from(payloadPart, "base64url");
    const mac = Buffer.from(macPart, "base64url");
    const wanted = this.mac(payload);
    if (mac.length !== wanted.length || !timingSafeEqual(mac, wanted)) return { ok: false, reason: "tampered" };
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
    } catch {
      return { ok: false, reason: "malformed" };
    }
    const state: SealedState = {
      bridge: String(raw.b),
      call: String(raw.c),
      nonce: String(raw.n),
      method: String(raw.m),
      digest: String(raw.d),
      expiresAt: Number(raw.e),
    };
    if (raw.v !== 1 || !Number.isFinite(state.expiresAt)) return { ok: false, reason: "malformed" };
    if (state.bridge !== expected.bridge) return { ok: false, reason: "other-connection" };
    if (expected.now >= state.expiresAt) return { ok: false, reason: "expired" };
    if (state.method !== expected.method || state.digest !== expected.digest) {
      return { ok: false, reason: "other-request" };
    }
    return { ok: true, state };
  }

  private mac(payload: Uint8Array): Buffer {
    return createHmac("sha256", this.secret).update(payload).digest();
  }
}

/** The request's identity for binding: its parameters without the per-leg and per-connection fields. */
export function digestParams(params: Record<string, unknown> | undefined): string {
  const { _meta: _m, inputResponses: _i, requestState: _s, ...rest } = params ?? {};
  return createHash("sha256").update(canonicalJson(rest)).digest("base64url");
}

/** JSON with object keys sorted, so equal parameters digest equally whatever order the client wrote them in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
