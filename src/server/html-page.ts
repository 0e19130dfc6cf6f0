import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { escapeHtml } from "../auth/callback-page.ts";

export { escapeHtml };

/**
 * The frame of every page the HTTP face serves to people: inline CSS, no external assets, no scripts except the
 * page's own (nonce-bound, which may fetch only this origin: the home page polls /healthz), never cached, never
 * framed, no Referer to other sites (callback URLs carry a code and a state).
 */
export interface PageOptions {
  title: string;
  /** HTML body, already escaped by the caller. */
  body: string;
  /** Inline script (static text only); allowed by a per-response nonce. */
  script?: string | undefined;
}

/** The product name: the tab title of the home page, and the suffix of every other page's title. */
const PRODUCT = "mcp-u2m-proxy";

const STYLE = `
:root{color-scheme:light dark;--fg:#1f2328;--muted:#656d76;--bg:#fff;--card:#f6f8fa;--line:#d0d7de;--accent:#0969da;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#8d96a0;--bg:#0d1117;--card:#161b22;--line:#30363d;--accent:#4493f8;--ok:#3fb950;--warn:#d29922;--bad:#f85149}}
*{box-sizing:border-box}body{font:15px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);max-width:52rem;margin:2.5rem auto;padding:0 1.25rem}
h1{font-size:1.45rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:0 0 .8rem}h3{font-size:.98rem;margin:0}
p{margin:.4rem 0}.muted{color:var(--muted)}a{color:var(--accent)}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1.1rem 1.25rem;margin:1.1rem 0}
code,pre{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:var(--bg);border:1px solid var(--line);border-radius:5px;padding:.05rem .3rem;word-break:normal;overflow-wrap:anywhere}
pre{background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:.7rem .8rem;overflow-x:auto;margin:.3rem 0 0;white-space:pre}
pre code{border:0;background:none;padding:0;overflow-wrap:normal}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:.6rem 0}dt{color:var(--muted)}dd{margin:0;min-width:0;overflow-wrap:anywhere}
@media (max-width:520px){body{margin:1.25rem auto;padding:0 .75rem}section{padding:.9rem}dl{grid-template-columns:1fr;gap:0}dt{margin-top:.5rem}}
.badge{display:inline-block;border-radius:999px;padding:.05rem .6rem;font-size:.85rem;font-weight:600;border:1px solid currentColor}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}
.notice{border-left:4px solid var(--ok)}.notice.bad{border-left-color:var(--bad)}
.actions{display:flex;gap:.6rem;flex-wrap:wrap;align-items:center;margin-top:.8rem}form{margin:0}
button,a.button{font:inherit;font-weight:600;border-radius:7px;border:1px solid var(--line);padding:.4rem .95rem;cursor:pointer;background:var(--accent);color:#fff;text-decoration:none;display:inline-block}
button.secondary,a.button.secondary{background:var(--bg);color:var(--fg)}
.snippet{margin:1.3rem 0 0}.snippet-head{display:flex;justify-content:space-between;align-items:flex-end;gap:.6rem}.snippet-head p{margin:.1rem 0 0}
button.copy{flex:none;font-size:.8rem;padding:.15rem .6rem;background:var(--bg);color:var(--fg);font-weight:500}
ul.plain{list-style:none;padding:0;margin:.4rem 0}ul.plain li{margin:.25rem 0}
.chip{display:inline-block;background:var(--bg);border:1px solid var(--line);border-radius:5px;padding:0 .35rem;margin:0 .25rem .2rem 0;font-size:.85rem}
footer{margin:2rem 0;font-size:.85rem}`;

/** A full HTML document. */
export function renderPage(options: PageOptions, nonce: string): string {
  const title = options.title === PRODUCT ? PRODUCT : `${options.title} · ${PRODUCT}`;
  const script = options.script ? `<script nonce="${nonce}">${options.script}</script>` : "";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>${options.body}${script}</body></html>`;
}

/**
 * Sends a page with the security headers. No `form-action` in the CSP: the sign-in form answers with a redirect
 * to the authorization server, and browsers apply form-action to that redirect too.
 */
export function sendPage(res: ServerResponse, status: number, options: PageOptions, extraHeaders: string[] = []): void {
  const nonce = randomBytes(16).toString("base64");
  const html = renderPage(options, nonce);
  res.writeHead(status, [
    "content-type",
    "text/html; charset=utf-8",
    "content-length",
    String(Buffer.byteLength(html)),
    "cache-control",
    "no-store",
    "x-frame-options",
    "DENY",
    "x-content-type-options",
    "nosniff",
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on the page's own form posts,
    // which the Origin check must refuse. Links to other sites (the authorization server) still get no Referer.
    "referrer-policy",
    "same-origin",
    "content-security-policy",
    `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; connect-src 'self'; img-src data:; frame-ancestors 'none'; base-uri 'none'`,
    ...extraHeaders,
  ]);
  res.end(res.req?.method === "HEAD" ? undefined : html);
}
