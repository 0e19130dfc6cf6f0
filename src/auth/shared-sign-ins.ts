import { createHash } from "node:crypto";
import type { OAuthDiscoveryState } from "@modelcontextprotocol/client";
import { isProxyError, ProxyError } from "../lib/errors.ts";
import { type PendingSignIn, type SignInRecord, STORE_VERSION, type TokenStore } from "../store/token-store.ts";
import type { PendingFlow } from "./flow-provider.ts";

/** What a callback's `state` finds in the shared store. */
export type SharedTake =
  /** The flow is this callback's now: no other replica can take it again. */
  | { outcome: "taken"; flow: PendingFlow }
  /** A replica took it already (a reload, a replay, a second tab). */
  | { outcome: "used" }
  | { outcome: "expired" }
  /** Not this grant's pending sign-in (another person's, or never issued). */
  | { outcome: "unknown" };

/** Compare-and-set attempts before giving up when replicas keep writing the same record at once. */
const MAX_ATTEMPTS = 20;

/**
 * A grant's pending browser sign-ins kept in a shared store (Redis, PostgreSQL), so the authorization server's
 * redirect can reach any replica behind the load balancer. One record per grant (under the grant key of the person
 * who started them, so another person's callback never finds theirs), holding every flow not yet expired. Single
 * use: taking a flow is a compare-and-set that marks it consumed, so of two replicas given the same `state` exactly
 * one exchanges the code. A consumed flow stays until it expires, so a second use says "already used".
 */
export class SharedSignIns {
  constructor(
    private readonly store: TokenStore,
    private readonly grantKey: string,
    private readonly serverUrl: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a flow whose authorization URL was just made (its state, PKCE verifier, redirect URI, issuer). */
  async save(flow: PendingFlow): Promise<void> {
    if (!flow.codeVerifier) return;
    const entry: PendingSignIn = {
      state: flow.state,
      code_verifier: flow.codeVerifier,
      redirect_uri: flow.redirectUri,
      ...(flow.scope ? { scope: flow.scope } : {}),
      ...(flow.discovery ? { discovery: flow.discovery as unknown as Record<string, unknown> } : {}),
      ...(flow.clientSource ? { client_source: flow.clientSource } : {}),
      started_at: flow.startedAt,
      expires_at: flow.expiresAt,
    };
    await this.update((pending) => {
      pending[stateId(flow.state)] = entry;
      return { write: true, result: undefined };
    });
  }

  /** Takes the flow `state` names, once across every replica. Store errors pass through (STORE_ERROR). */
  async take(state: string): Promise<SharedTake> {
    const id = stateId(state);
    return this.update<SharedTake>((pending, expired) => {
      const entry = pending[id];
      if (!entry) {
        // Dropping the expired flows is the only change then.
        return { write: Object.keys(expired).length > 0, result: { outcome: id in expired ? "expired" : "unknown" } };
      }
      if (!validEntry(entry) || entry.state !== state) return { write: false, result: { outcome: "unknown" } };
      if (entry.consumed_at !== undefined) return { write: false, result: { outcome: "used" } };
      entry.consumed_at = this.now();
      return { write: true, result: { outcome: "taken", flow: toFlow(entry) } };
    });
  }

  /**
   * Read-modify-write of the record with compare-and-set, retried when another replica wrote it meanwhile. Expired
   * flows are dropped first; `change` edits what is left and says whether to write.
   */
  private async update<T>(
    change: (
      pending: Record<string, PendingSignIn>,
      expired: Record<string, PendingSignIn>,
    ) => { write: boolean; result: T },
  ): Promise<T> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const record = await this.store.read(this.grantKey, "sign_in");
      const now = this.now();
      const pending: Record<string, PendingSignIn> = {};
      const expired: Record<string, PendingSignIn> = {};
      for (const [id, entry] of Object.entries(record?.pending ?? {})) {
        if (validEntry(entry) && entry.expires_at > now) pending[id] = { ...entry };
        else expired[id] = entry;
      }
      const { write, result } = change(pending, expired);
      if (!write) return result;
      const next: SignInRecord = { version: STORE_VERSION, server_url: this.serverUrl, pending };
      try {
        if (Object.keys(pending).length === 0) await this.store.remove(this.grantKey, "sign_in");
        else await this.store.write(this.grantKey, "sign_in", next, { expectedRevision: record?.revision ?? null });
        return result;
      } catch (error) {
        if (!isProxyError(error, "STORE_CONFLICT")) throw error;
      }
    }
    throw new ProxyError("STORE_ERROR", `The pending sign-ins of ${this.serverUrl} kept changing under this replica.`, {
      hint: "Try the sign-in again.",
    });
  }
}

/** The record's index of a flow: a digest, so the state itself is only inside the (possibly sealed) value. */
function stateId(state: string): string {
  return createHash("sha256").update(state, "utf8").digest("hex");
}

function validEntry(entry: unknown): entry is PendingSignIn {
  const e = entry as Partial<PendingSignIn> | null;
  return (
    typeof e === "object" &&
    e !== null &&
    typeof e.state === "string" &&
    typeof e.code_verifier === "string" &&
    typeof e.redirect_uri === "string" &&
    typeof e.started_at === "number" &&
    typeof e.expires_at === "number"
  );
}

function toFlow(entry: PendingSignIn): PendingFlow {
  return {
    state: entry.state,
    redirectUri: entry.redirect_uri,
    scope: entry.scope,
    codeVerifier: entry.code_verifier,
    ...(entry.discovery ? { discovery: entry.discovery as unknown as OAuthDiscoveryState } : {}),
    clientSource: entry.client_source,
    startedAt: entry.started_at,
    expiresAt: entry.expires_at,
  };
}
