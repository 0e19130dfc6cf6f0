import type { AuthStatus, CallbackResult } from "../auth/auth-client.ts";
import type { ProxyError } from "../lib/errors.ts";
import { clientConfigs } from "./client-config.ts";
import { escapeHtml, type PageOptions } from "./html-page.ts";

/** What the page for people shows; every value is escaped here. */
export interface HomePageInput {
  upstreamUrl: string;
  /** The proxy's base URL as the browser reached it ("http://127.0.0.1:8000"). */
  proxyBaseUrl: string;
  /** Undefined when a static Authorization header replaces OAuth. */
  status: AuthStatus | undefined;
  /** Token for the page's POST forms. */
  csrf: string;
  apiKeyRequired: boolean;
  /** Whether a Sign out button can clear the stored tokens. */
  canSignOut: boolean;
  /** A problem to show at the top (e.g. a sign-in that could not start). */
  error?: ProxyError | undefined;
  now?: number;
}

/** The `/` page: the upstream, the sign-in state, Sign in / Sign out, and client configuration. */
export function renderHomePage(input: HomePageInput): PageOptions {
  const configs = clientConfigs({
    upstreamUrl: input.upstreamUrl,
    proxyBaseUrl: input.proxyBaseUrl,
    apiKeyRequired: input.apiKeyRequired,
  });
  const pending = input.status?.signInUrl;
  const body = `
<header><h1>mcp-u2m-proxy</h1>
<p class="muted">Signs you in once to an OAuth-protected MCP server and lets any MCP client use it.</p></header>
${input.error ? errorSection(input.error) : ""}
<section><h2>Upstream</h2>
<p><code>${escapeHtml(input.upstreamUrl)}</code></p>
${input.status ? statusBlock(input.status, input.now ?? Date.now()) : '<p><span class="badge ok">Static Authorization header</span> <span class="muted">OAuth is not used for this upstream.</span></p>'}
${input.status ? actions(input) : ""}
</section>
<section><h2>Connect a client</h2>
<p class="muted">MCP endpoint: <code>${escapeHtml(`${input.proxyBaseUrl}/mcp`)}</code> (Streamable HTTP) · legacy SSE: <code>${escapeHtml(`${input.proxyBaseUrl}/sse`)}</code>${
    input.apiKeyRequired
      ? " · every request needs the proxy's API key (<code>Authorization: Bearer &lt;key&gt;</code> or <code>X-API-Key</code>)"
      : ""
  }</p>
${configs
  .map(
    (config) => `<h3>${escapeHtml(config.title)}</h3><p class="muted">${escapeHtml(config.where)}</p>
<pre><button class="copy" type="button" data-copy="cfg-${escapeHtml(config.id)}">Copy</button><code id="cfg-${escapeHtml(config.id)}">${escapeHtml(config.text)}</code></pre>`,
  )
  .join("\n")}
</section>
<footer class="muted">Health: <a href="/healthz">/healthz</a></footer>`;
  return {
    title: "mcp-u2m-proxy",
    body,
    script: COPY_SCRIPT,
    // While the user is signing in (in another tab), keep this page current.
    refreshSeconds: pending ? 5 : undefined,
  };
}

/** The page after the authorization server's redirect: success only when the core says so. */
export function renderCallbackResult(result: CallbackResult, csrf: string): { status: number; page: PageOptions } {
  if (result.ok) {
    const who = result.account ? ` as <b>${escapeHtml(result.account)}</b>` : "";
    return {
      status: 200,
      page: {
        title: "Signed in",
        body: `<section><h1 class="ok">✓ Signed in</h1>
<p>You are signed in${who} to <code>${escapeHtml(result.serverUrl)}</code>.</p>
<p>You can close this tab: MCP clients connected to this proxy can use the server now.</p>
<p><a href="/">Back to the proxy's page</a></p></section>`,
      },
    };
  }
  const { error } = result;
  const status = error.code === "STATE_MISMATCH" || error.code === "ISSUER_MISMATCH" ? 400 : 200;
  return {
    status,
    page: {
      title: "Sign-in failed",
      body: `<section><h1 class="bad">Sign-in failed</h1>
<p>${escapeHtml(error.message)}</p>${error.hint ? `<p class="muted">${escapeHtml(error.hint)}</p>` : ""}
<p class="muted">Error code: <code>${escapeHtml(error.code)}</code></p>
<div class="actions">${signInForm(csrf, "Try again")}<form method="get" action="/"><button class="secondary">Back to the proxy's page</button></form></div>
</section>`,
    },
  };
}

function statusBlock(status: AuthStatus, now: number): string {
  const rows: [string, string][] = [];
  let badge: string;
  if (status.signedIn) badge = '<span class="badge ok">Signed in</span>';
  else if (status.signInUrl) badge = '<span class="badge warn">Sign-in under way</span>';
  else badge = '<span class="badge bad">Not signed in</span>';
  rows.push(["State", badge]);
  if (status.account) rows.push(["Account", escapeHtml(status.account)]);
  if (status.expiresAt) {
    const seconds = Math.round((Date.parse(status.expiresAt) - now) / 1000);
    const when = seconds >= 0 ? `in ${humanDuration(seconds)}` : `${humanDuration(-seconds)} ago`;
    const refresh = status.hasRefreshToken ? "renewed automatically" : "no refresh token: sign in again then";
    rows.push([
      "Access token expires",
      `${escapeHtml(status.expiresAt)} <span class="muted">(${when}; ${refresh})</span>`,
    ]);
  }
  if (status.scopes.length > 0) {
    rows.push(["Scopes", status.scopes.map((scope) => `<span class="chip">${escapeHtml(scope)}</span>`).join("")]);
  }
  if (status.issuer) rows.push(["Authorization server", `<code>${escapeHtml(status.issuer)}</code>`]);
  if (status.clientId) {
    const source = status.clientSource ? ` <span class="muted">(${escapeHtml(status.clientSource)})</span>` : "";
    rows.push(["Client", `<code>${escapeHtml(status.clientId)}</code>${source}`]);
  }
  const pending = status.signInUrl
    ? `<p>A sign-in is waiting for you: <a href="${escapeHtml(status.signInUrl)}" rel="noreferrer">continue signing in</a>. This page updates by itself.</p>`
    : "";
  return `<dl>${rows.map(([term, value]) => `<dt>${term}</dt><dd>${value}</dd>`).join("")}</dl>${pending}`;
}

function actions(input: HomePageInput): string {
  const signedIn = input.status?.signedIn === true;
  const signOut =
    input.canSignOut && (signedIn || input.status?.hasRefreshToken)
      ? `<form method="post" action="/oauth/sign-out"><input type="hidden" name="csrf" value="${escapeHtml(input.csrf)}"><button class="secondary">Sign out</button></form>`
      : "";
  return `<div class="actions">${signInForm(input.csrf, signedIn ? "Sign in again" : "Sign in")}${signOut}</div>`;
}

function signInForm(csrf: string, label: string): string {
  return `<form method="post" action="/oauth/sign-in"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}"><button>${escapeHtml(label)}</button></form>`;
}

function errorSection(error: ProxyError): string {
  return `<section><p class="bad"><b>${escapeHtml(error.message)}</b></p>${error.hint ? `<p class="muted">${escapeHtml(error.hint)}</p>` : ""}</section>`;
}

function humanDuration(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}

const COPY_SCRIPT = `for(const b of document.querySelectorAll("button[data-copy]")){b.addEventListener("click",()=>{const t=document.getElementById(b.dataset.copy).textContent;const done=()=>{b.textContent="Copied";setTimeout(()=>{b.textContent="Copy"},1500)};if(navigator.clipboard){navigator.clipboard.writeText(t).then(done,()=>{})}else{const r=document.createRange();r.selectNodeContents(document.getElementById(b.dataset.copy));const s=getSelection();s.removeAllRanges();s.addRange(r)}})}`;
