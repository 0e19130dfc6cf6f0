/** Valid records with fake values, shared by the store tests. */
import {
  type ClientInfoRecord,
  type DiscoveryRecord,
  type RecordKind,
  type RecordTypes,
  STORE_VERSION,
  type TokensRecord,
} from "../../../src/store/token-store.ts";

export const SERVER_URL = "https://mcp.example.com/mcp";
export const ISSUER = "https://auth.example.com";

export function tokensRecord(accessToken = "fake-access-token-1", extra: Partial<TokensRecord> = {}): TokensRecord {
  return {
    version: STORE_VERSION,
    server_url: SERVER_URL,
    issuer: ISSUER,
    tokens: {
      access_token: accessToken,
      token_type: "Bearer",
      refresh_token: "fake-refresh-token-1",
      scope: "mcp:read mcp:write",
      expires_in: 3600,
    },
    expires_at: 1_900_000_000_000,
    obtained_at: 1_899_996_400_000,
    requested_scope: "mcp:read mcp:write",
    account: "alice@example.com",
    ...extra,
  };
}

export function clientInfoRecord(): ClientInfoRecord {
  return {
    version: STORE_VERSION,
    server_url: SERVER_URL,
    issuer: ISSUER,
    source: "dynamic",
    redirect_uri: "http://localhost:8000/oauth/callback",
    client: {
      client_id: "fake-client-id",
      client_secret: "fake-client-secret",
      client_id_issued_at: 1_899_996_400,
      redirect_uris: ["http://localhost:8000/oauth/callback"],
      token_endpoint_auth_method: "client_secret_post",
    },
  };
}

export function discoveryRecord(): DiscoveryRecord {
  return {
    version: STORE_VERSION,
    server_url: SERVER_URL,
    state: {
      authorizationServerUrl: ISSUER,
      resourceMetadata: { resource: SERVER_URL, authorization_servers: [ISSUER] },
      authorizationServerMetadata: { issuer: ISSUER, token_endpoint: `${ISSUER}/token` },
    },
    discovered_at: 1_899_996_400_000,
  };
}

/** A record as the store reads it back after its `revision`-th write (the store sets `revision`). */
export function asStored<T extends object>(record: T, revision = 1): T & { revision: number } {
  return { ...record, revision };
}

export const sampleRecords: { [K in RecordKind]: () => RecordTypes[K] } = {
  tokens: () => tokensRecord(),
  client_info: clientInfoRecord,
  discovery: discoveryRecord,
  protocol: () => ({
    version: STORE_VERSION,
    server_url: "https://mcp.example.com/mcp",
    era: "modern",
    supported_versions: ["2026-07-28"],
    checked_at: 1_899_996_400_000,
  }),
  sign_in: () => ({
    version: STORE_VERSION,
    server_url: SERVER_URL,
    pending: {
      "00aa": {
        state: "fake-state-0123456789",
        code_verifier: "fake-code-verifier-0123456789",
        redirect_uri: "http://127.0.0.1:8000/oauth/callback",
        scope: "mcp:tools",
        discovery: discoveryRecord().state,
        client_source: "dynamic",
        started_at: 1_899_996_400_000,
        expires_at: 1_899_996_700_000,
      },
    },
  }),
  page_secret: () => ({
    version: STORE_VERSION,
    server_url: "",
    secret: "fake-page-secret-0123456789",
    created_at: 1_899_996_400_000,
  }),
};

/**
 * The two payloads the crash test's writer alternates: different lengths and contents, ~150 kB each, so a torn or
 * mixed write could never parse as either.
 */
export function crashPayload(which: "a" | "b"): TokensRecord {
  const size = which === "a" ? 150_000 : 120_000;
  return tokensRecord(`${which}-`.padEnd(size, which), {
    obtained_at: which === "a" ? 1 : 2,
    account: which.repeat(1000),
  });
}
