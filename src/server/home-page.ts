import type { AuthStatus, CallbackResult } from "../auth/auth-client.ts";
import type { ProxyError } from "../lib/errors.ts";
import { clientConfigs } from "./client-config.ts";
import { escapeHtml, type PageOptions } from "./html-page.ts";

/** What the page for people shows; every value is escaped here. */
export interface HomePageInput {
  upstreamUrl: string;
  /** The proxy's base URL for clients ("http://127.0.0.1:8000"): see clientBaseUrl(). */
  proxyBaseUrl: string;
  /** Undefined when a static Authorization header replaces OAuth. */
  status: AuthStatus | undefined;
  /** Token for the page's POST forms. */
  csrf: string;
  apiKeyRequired: boolean;
  /** The command that runs this proxy here (for the stdio snippets); see ClientConfigInput. */
  launch?: { command: string; args: string[] } | undefined;
  /** Whether a Sign out button can clear the stored tokens. */
  canSignOut: boolean;
  /** A problem to show at the top (e.g. a sign-in that could not start). */
  error?: ProxyError | undefined;
  /** The Sign out button was just used: a one-line notice (shown only while signed out). */
  signedOut?: { revoked: boolean } | undefined;
  /** Patterns of the upstream's tools hidden from clients (--ignore-tool). */
  hiddenTools?: readonly string[] | undefined;
  now?: number;
}

/**
 * The state of an upstream reached with a static Authorization header instead of OAuth: no Sign in / Sign out
 * (there is nothing to start or end), and never the header's value, which the page is not even given.
 */
export const STATIC_HEADER_STATE = `<p><span class="badge ok">Static Authorization header</span> <span class="muted">OAuth is not used for this upstream: the proxy sends the Authorization header it was given (<code>--header</code> or the config file's <code>headers</code>), so there is no sign-in to start or end.</span></p>`;

/** Which tools clients never see, so that a tool missing from a client's list is explained where people look. */
function hiddenToolsLine(patterns: readonly string[] | undefined): string {
  if (!patterns?.length) return "";
  const chips = patterns.map((pattern) => `<code>${escapeHtml(pattern)}</code>`).join(" ");
  return `<p id="hidden-tools">Hidden from clients (<code>--ignore-tool</code>): ${chips} <span class="muted">— not listed, and their calls are refused.</span></p>\n`;
}

/** The `/` page: the upstream, the sign-in state, Sign in / Sign out, and client configuration. */
export function renderHomePage(input: HomePageInput): PageOptions {
  const configs = clientConfigs({
    upstreamUrl: input.upstreamUrl,
    proxyBaseUrl: input.proxyBaseUrl,
    apiKeyRequired: input.apiKeyRequired,
    launch: input.launch,
  });
  const status = input.status;
  const pending = status?.signInUrl !== undefined;
  const notice =
    input.signedOut && status && !status.signedIn
      ? `<section class="notice"><p><b>Signed out.</b> ${
          input.signedOut.revoked
            ? "The tokens were revoked at the authorization server and deleted from this machine."
            : "The tokens were deleted from this machine."
        }</p></section>`
      : "";
  const body = `
<header><h1>mcp-u2m-proxy</h1>
<p class="muted">Signs you in once to an OAuth-protected MCP server and lets any MCP client use it.</p></header>
${notice}${input.error ? errorSection(input.error) : ""}
<section id="state" data-signed-in="${status?.signedIn === true}" data-pending="${pending}"><h2>Upstream</h2>
<p><code>${escapeHtml(input.upstreamUrl)}</code></p>
${hiddenToolsLine(input.hiddenTools)}${status ? statusBlock(status, input.now ?? Date.now()) + actions(input, status) : STATIC_HEADER_STATE}
</section>
<section><h2>Connect a client</h2>
<ul class="plain">
<li>MCP endpoint (Streamable HTTP): <code>${escapeHtml(`${input.proxyBaseUrl}/mcp`)}</code></li>
<li>Legacy HTTP+SSE endpoint: <code>${escapeHtml(`${input.proxyBaseUrl}/sse`)}</code></li>
</ul>${
    input.apiKeyRequired
      ? `<p class="muted">Every request needs the proxy's API key: <code>Authorization: Bearer &#60;key&#62;</code> or <code>X-API-Key: &#60;key&#62;</code>.</p>`
      : ""
  }
${configs
  .map((config) => {
    const id = `cfg-${escapeHtml(config.id)}`;
    return `<div class="snippet"><div class="snippet-head"><div><h3>${escapeHtml(config.title)}</h3><p class="muted">${escapeHtml(config.where)}</p></div><button class="copy" type="button" data-copy="${id}" aria-label="Copy the ${escapeHtml(config.title)} configuration">Copy</button></div>
<pre><code id="${id}">${escapeHtml(config.text)}</code></pre></div>`;
  })
  .join("\n")}
</section>
<footer class="muted">Health: <a href="/healthz">/healthz</a></footer>`;
  return {
    title: "mcp-u2m-proxy",
    body,
    // While a sign-in is under way (it may take minutes), watch /healthz and reload only when the state changes.
    script: COPY_SCRIPT + LOCAL_TIME_SCRIPT + (pending ? WATCH_SCRIPT : ""),
  };
}

/**
 * The page after the authorization server's redirect: success only when the core says so. `current` is the
 * sign-in state now, so that a reloaded (already used) callback says "you are signed in" instead of a bare failure.
 */
export function renderCallbackResult(
  result: CallbackResult,
  csrf: string,
  current?: AuthStatus,
): { status: number; page: PageOptions } {
  const back = `<a class="button secondary" href="/">Back to the proxy's page</a>`;
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
  if (error.code === "STATE_MISMATCH" && current?.signedIn) {
    // Still a refusal (400, nothing exchanged): the state is single-use. But the person is signed in, so say that.
    const who = current.account ? ` as <b>${escapeHtml(current.account)}</b>` : "";
    return {
      status,
      page: {
        title: "Already signed in",
        body: `<section><h1 class="ok">Already signed in</h1>
<p>This sign-in link was already used (or has expired), so it changed nothing — you are signed in${who} to <code>${escapeHtml(current.serverUrl)}</code>.</p>
<div class="actions">${back}</div></section>`,
      },
    };
  }
  return {
    status,
    page: {
      title: "Sign-in failed",
      body: `<section><h1 class="bad">Sign-in failed</h1>
<p>${withCode(error.message)}</p>${error.hint ? `<p class="muted">${withCode(error.hint)}</p>` : ""}
<p class="muted">Error code: <code>${escapeHtml(error.code)}</code></p>
<div class="actions">${signInForm(csrf, "Try again")}${back}</div>
</section>`,
    },
  };
}

export function statusBlock(status: AuthStatus, now: number): string {
  const rows: [string, string][] = [];
  let badge: string;
  if (status.signedIn) badge = '<span class="badge ok">Signed in</span>';
  else if (status.signInUrl) badge = '<span class="badge warn">Sign-in under way</span>';
  else badge = '<span class="badge bad">Not signed in</span>';
  rows.push(["State", badge]);
  if (status.account) rows.push(["Account", escapeHtml(status.account)]);
  const expires = status.expiresAt ? Date.parse(status.expiresAt) : Number.NaN;
  if (status.expiresAt && Number.isFinite(expires)) {
    const seconds = Math.round((expires - now) / 1000);
    let relative: string;
    if (seconds >= 0) {
      relative = `in ${humanDuration(seconds)} — ${status.hasRefreshToken ? "renewed automatically" : "then sign in again (no refresh token)"}`;
    } else {
      relative = `${humanDuration(-seconds)} ago — ${status.hasRefreshToken ? "renewed on the next request" : "sign in again"}`;
    }
    const iso = new Date(expires).toISOString();
    rows.push([
      status.bearer === "id_token" ? "ID token expires (sent as the bearer)" : "Access token expires",
      `${relative} <span class="muted">(<time datetime="${escapeHtml(iso)}">${escapeHtml(readableUtc(expires))}</time>)</span>`,
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
  if (status.adjustments?.length) {
    rows.push(["Adjusted for this server", status.adjustments.map((line) => escapeHtml(line)).join("<br>")]);
  }
  const pending = status.signInUrl
    ? `<p class="muted">A sign-in is waiting for you at the authorization server. This page updates by itself when it completes.</p>`
    : "";
  return `<dl>${rows.map(([term, value]) => `<dt>${term}</dt><dd>${value}</dd>`).join("")}</dl>${pending}`;
}

function actions(input: HomePageInput, status: AuthStatus): string {
  const signOut =
    input.canSignOut && (status.signedIn || status.hasRefreshToken)
      ? `<form method="post" action="/oauth/sign-out"><input type="hidden" name="csrf" value="${escapeHtml(input.csrf)}"><button class="secondary">Sign out</button></form>`
      : "";
  // One way to do one thing: while a sign-in waits, the only sign-in button continues it (same flow, same state).
  let signIn: string;
  if (status.signInUrl) signIn = signInForm(input.csrf, "Continue signing in");
  else if (status.signedIn) signIn = signInForm(input.csrf, "Sign in again", "secondary");
  else signIn = signInForm(input.csrf, "Sign in");
  return `<div class="actions">${signIn}${signOut}</div>`;
}

function signInForm(csrf: string, label: string, kind?: "secondary"): string {
  return `<form method="post" action="/oauth/sign-in"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}"><button${kind ? ` class="${kind}"` : ""}>${escapeHtml(label)}</button></form>`;
}

function errorSection(error: ProxyError): string {
  return `<section class="notice bad"><p class="bad"><b>${withCode(error.message)}</b></p>${error.hint ? `<p class="muted">${withCode(error.hint)}</p>` : ""}<p class="muted">Error code: <code>${escapeHtml(error.code)}</code></p></section>`;
}

/** Escapes text and shows its `backticked` spans (commands in error hints) as code. */
function withCode(text: string): string {
  return text
    .split("`")
    .map((part, index) => (index % 2 === 1 ? `<code>${escapeHtml(part)}</code>` : escapeHtml(part)))
    .join("");
}

function humanDuration(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "27 Nov 2026, 17:11 UTC": the server does not know the browser's zone (the page's script localizes it). */
function readableUtc(ms: number): string {
  const date = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}, ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
}

export const COPY_SCRIPT = `for(const b of document.querySelectorAll("button[data-copy]")){b.addEventListener("click",()=>{const el=document.getElementById(b.dataset.copy);const done=()=>{b.textContent="Copied";setTimeout(()=>{b.textContent="Copy"},1500)};const select=()=>{const r=document.createRange();r.selectNodeContents(el);const s=getSelection();s.removeAllRanges();s.addRange(r)};if(navigator.clipboard){navigator.clipboard.writeText(el.textContent).then(done,select)}else{select()}})}`;

/** Shows the expiry in the browser's own time zone and locale. */
export const LOCAL_TIME_SCRIPT = `for(const t of document.querySelectorAll("time[datetime]")){const d=new Date(t.dateTime);if(!isNaN(d)){t.title=t.textContent;t.textContent=d.toLocaleString(undefined,{dateStyle:"medium",timeStyle:"short"})}}`;

/**
 * Polls /healthz (same origin, allowed by the page's CSP) while a sign-in is under way and reloads once the state
 * differs from what the page shows (the upstream's URL in /healthz marks the full answer, which names a sign-in
 * under way); gives up after 10 minutes (sign-ins expire before that).
 */
const WATCH_SCRIPT = `(()=>{const s=document.getElementById("state");if(!s)return;const was=s.dataset.signedIn==="true";const until=Date.now()+600000;const tick=async()=>{if(Date.now()>until)return;try{const r=await fetch("/healthz",{cache:"no-store"});if(r.ok){const h=await r.json();const changed=h.signedIn!==was||(!!h.upstream&&"url" in h.upstream&&!("signInUrl" in h));if(changed){location.reload();return}}}catch{}setTimeout(tick,2500)};setTimeout(tick,2500)})();`;
