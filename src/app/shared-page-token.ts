import { createHmac, randomBytes } from "node:crypto";
import { isProxyError } from "../lib/errors.ts";
import { STORE_VERSION, type TokenStore } from "../store/token-store.ts";

/** The store key of the page secret: not an upstream's (listings skip it: it has no tokens, client or discovery). */
export const PAGE_SECRET_KEY = "page-secret";

/**
 * The status page's form token (CSRF) when replicas share a store: derived from a random secret kept in the store,
 * made by the first replica to start, so a page loaded from one replica can be posted to another. Without a shared
 * store (files, memory) each process makes its own random token, as before, and nothing is written.
 */
export async function pageFormToken(store: TokenStore): Promise<string | undefined> {
  if (!store.watch) return undefined;
  return derive(await pageSecret(store));
}

async function pageSecret(store: TokenStore): Promise<string> {
  const stored = await store.read(PAGE_SECRET_KEY, "page_secret");
  if (stored) return stored.secret;
  const secret = randomBytes(32).toString("base64url");
  try {
    await store.write(
      PAGE_SECRET_KEY,
      "page_secret",
      { version: STORE_VERSION, server_url: "", secret, created_at: Date.now() },
      { expectedRevision: null },
    );
    return secret;
  } catch (error) {
    // Another replica made it first: use theirs.
    if (!isProxyError(error, "STORE_CONFLICT")) throw error;
    const theirs = await store.read(PAGE_SECRET_KEY, "page_secret");
    if (!theirs) throw error;
    return theirs.secret;
  }
}

function derive(secret: string): string {
  return createHmac("sha256", secret).update("mcp-u2m-proxy status page form token").digest("base64url");
}
