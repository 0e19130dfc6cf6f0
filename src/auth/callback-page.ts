import type { CallbackResult } from "./auth-client.ts";

/** HTML-escapes text for element content and quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Headers for every page we serve: no caching of OAuth results, no framing, no scripts from anywhere. */
export const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
} as const;

/**
 * The page the browser shows after the authorization server redirects back. It says "signed in" only when
 * the code exchange succeeded; otherwise what went wrong and what to do next. Every value is escaped.
 */
export function renderCallbackPage(result: CallbackResult): { status: number; html: string } {
  if (result.ok) {
    const who = result.account ? ` as <b>${escapeHtml(result.account)}</b>` : "";
    return {
      status: 200,
      html: page(
        "Signed in",
        `<h1>✓ Signed in</h1><p>You are signed in${who} to <code>${escapeHtml(result.serverUrl)}</code>.</p>
<p>You can close this tab and return to your MCP client.</p>`,
      ),
    };
  }
  const { error } = result;
  const status = error.code === "STATE_MISMATCH" || error.code === "ISSUER_MISMATCH" ? 400 : 200;
  return {
    status,
    html: page(
      "Sign-in failed",
      `<h1>Sign-in failed</h1><p>${escapeHtml(error.message)}</p>${error.hint ? `<p>${escapeHtml(error.hint)}</p>` : ""}
<p class="code">Error code: ${escapeHtml(error.code)}</p>`,
    ),
  };
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} · mcp-u2m-proxy</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.5rem}code{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}.code{color:#6b7280;font-size:.9rem}</style>
</head><body>${body}</body></html>`;
}
