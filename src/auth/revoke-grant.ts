import { describeError } from "../lib/errors.ts";
import { maskKnownSecrets } from "../lib/known-secrets.ts";
import { networkCause } from "../lib/network-failure.ts";
import { assertSafeBrowserUrl } from "../lib/open-url.ts";
import type { ClientInfoRecord, TokensRecord } from "../store/token-store.ts";
import type { FetchLike } from "./authorized-fetch.ts";

/** What the authorization server did with a revocation: accepted, or refused / unreachable (and what it said). */
export type RevocationOutcome =
  | { revoked: true }
  | {
      revoked: false;
      /** What went wrong, one clause, without secrets: "it answered HTTP 400 invalid_client (Client not found)". */
      reason: string;
      /** RFC 6749 §5.2 error code, when the server sent one (`invalid_client`: it forgot our registration). */
      error?: string | undefined;
    };

/**
 * RFC 7009 revocation at sign-out. Revoking the refresh token also ends the access tokens of the same grant
 * (§2.1), and many servers cannot revoke self-contained JWT access tokens at all, so the access token is revoked
 * only when it is alone. Never throws: a failure is an outcome the caller reports.
 */
export async function revokeGrant(
  fetchFn: FetchLike,
  endpoint: string,
  client: ClientInfoRecord,
  record: TokensRecord,
): Promise<RevocationOutcome> {
  try {
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
    if (response.ok) {
      await response.body?.cancel();
      return { revoked: true };
    }
    const text = (await response.text().catch(() => "")).slice(0, 2000);
    let error: string | undefined;
    let description: string | undefined;
    try {
      const parsed = JSON.parse(text) as { error?: unknown; error_description?: unknown };
      if (typeof parsed.error === "string") error = parsed.error.slice(0, 100);
      if (typeof parsed.error_description === "string") description = parsed.error_description.slice(0, 200);
    } catch {
      // not an RFC 6749 error body
    }
    const said = error ? ` ${error}${description ? ` (${description})` : ""}` : "";
    return { revoked: false, reason: maskKnownSecrets(`it answered HTTP ${response.status}${said}`), error };
  } catch (error) {
    const cause = error instanceof TypeError ? networkCause(error) : describeError(error);
    return { revoked: false, reason: maskKnownSecrets(`it could not be reached (${cause})`) };
  }
}
