import { assertSafeBrowserUrl } from "../lib/open-url.ts";
import type { ClientInfoRecord, TokensRecord } from "../store/token-store.ts";
import type { FetchLike } from "./authorized-fetch.ts";

/**
 * RFC 7009 revocation at sign-out. Revoking the refresh token also ends the access tokens of the same grant
 * (§2.1), and many servers cannot revoke self-contained JWT access tokens at all, so the access token is revoked
 * only when it is alone. Resolves true when the AS accepted it.
 */
export async function revokeGrant(
  fetchFn: FetchLike,
  endpoint: string,
  client: ClientInfoRecord,
  record: TokensRecord,
): Promise<boolean> {
  assertSafeBrowserUrl(endpoint); // https, or http on loopback
  const refreshToken = record.tokens.refresh_token;
  const body = new URLSearchParams(
    refreshToken
      ? { token: refreshToken, token_type_hint: "refresh_token" }
      : { token: record.tokens.access_token, token_type_hint: "access_token" },
  );
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  const { client_id, client_secret } = client.client;
  if (client_secret) {
    const basic = Buffer.from(`${encodeURIComponent(client_id)}:${encodeURIComponent(client_secret)}`);
    headers.authorization = `Basic ${basic.toString("base64")}`;
  } else body.set("client_id", client_id);
  const response = await fetchFn(endpoint, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
  await response.body?.cancel();
  return response.ok;
}
