import type { AuthStatus } from "../auth/auth-client.ts";
import { clientConfigs } from "./client-config.ts";
import { COPY_SCRIPT, LOCAL_TIME_SCRIPT, STATIC_HEADER_STATE, statusBlock } from "./home-page.ts";
import { escapeHtml, type PageOptions } from "./html-page.ts";

/** One upstream as the list shows it. */
export interface ListedUpstream {
  name: string;
  url: string;
  /** Undefined when the status could not be read, or with a static Authorization header (`oauth` false). */
  status: AuthStatus | undefined;
  oauth: boolean;
}

export interface UpstreamsPageInput {
  upstreams: readonly ListedUpstream[];
  /** Token for the page's POST forms. */
  csrf: string;
  /** This proxy's base URL as the browser reached it, e.g. "http://127.0.0.1:8000". */
  proxyBaseUrl: string;
  apiKeyRequired: boolean;
  /** The command that runs this proxy here, for the stdio snippets (which name the server). */
  launch?: { command: string; args: string[] } | undefined;
  now?: number;
}

/**
 * `/` of a proxy with several upstreams: each one's state (account, expiry, scopes, authorization server), its own
 * Sign in / Sign out buttons (posting to its `/servers/<name>/oauth/…` routes) and its client snippets.
 */
export function renderUpstreamsPage(input: UpstreamsPageInput): PageOptions {
  const now = input.now ?? Date.now();
  const sections = input.upstreams.map((upstream) => {
    const base = `/servers/${encodeURIComponent(upstream.name)}`;
    const proxyBaseUrl = `${input.proxyBaseUrl}${base}`;
    const configs = clientConfigs({
      upstreamUrl: upstream.url,
      proxyBaseUrl,
      apiKeyRequired: input.apiKeyRequired,
      launch: input.launch,
      stdioTarget: upstream.name,
    });
    const status = upstream.status;
    let state: string;
    if (!upstream.oauth) {
      state = STATIC_HEADER_STATE;
    } else if (status) {
      state = statusBlock(status, now) + actions(base, input.csrf, status);
    } else {
      state = `<p><span class="badge bad">State unknown</span></p>${actions(base, input.csrf, undefined)}`;
    }
    const snippets = configs
      .map((config) => {
        const id = `cfg-${escapeHtml(upstream.name)}-${escapeHtml(config.id)}`;
        return `<details class="snippet"><summary>${escapeHtml(config.title)} <span class="muted">${escapeHtml(config.where)}</span></summary><button class="copy" type="button" data-copy="${id}" aria-label="Copy the ${escapeHtml(config.title)} configuration for ${escapeHtml(upstream.name)}">Copy</button>
<pre><code id="${id}">${escapeHtml(config.text)}</code></pre></details>`;
      })
      .join("\n");
    return `<section id="server-${escapeHtml(upstream.name)}" class="upstream" data-name="${escapeHtml(upstream.name)}" data-signed-in="${status?.signedIn === true}">
<h2>${escapeHtml(upstream.name)}</h2>
<p><code>${escapeHtml(upstream.url)}</code></p>
${state}
<ul class="plain">
<li>MCP endpoint (Streamable HTTP): <code>${escapeHtml(`${proxyBaseUrl}/mcp`)}</code></li>
<li>Legacy HTTP+SSE endpoint: <code>${escapeHtml(`${proxyBaseUrl}/sse`)}</code></li>
</ul>
${snippets}
</section>`;
  });
  const body = `
<header><h1>mcp-u2m-proxy</h1>
<p class="muted">${input.upstreams.length} MCP servers behind one proxy: sign in to each once, and any MCP client can use them.</p></header>
${input.apiKeyRequired ? `<p class="muted">Every request needs the proxy's API key: <code>Authorization: Bearer &#60;key&#62;</code> or <code>X-API-Key: &#60;key&#62;</code>.</p>` : ""}
${sections.join("\n")}
<footer class="muted">Health: <a href="/healthz">/healthz</a></footer>`;
  return { title: "mcp-u2m-proxy", body, script: COPY_SCRIPT + LOCAL_TIME_SCRIPT };
}

function actions(base: string, csrf: string, status: AuthStatus | undefined): string {
  const form = (path: string, label: string, kind?: "secondary") =>
    `<form method="post" action="${escapeHtml(`${base}${path}`)}"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}"><button${kind ? ` class="${kind}"` : ""}>${escapeHtml(label)}</button></form>`;
  let signIn: string;
  if (status?.signInUrl) signIn = form("/oauth/sign-in", "Continue signing in");
  else if (status?.signedIn) signIn = form("/oauth/sign-in", "Sign in again", "secondary");
  else signIn = form("/oauth/sign-in", "Sign in");
  const signOut =
    status && (status.signedIn || status.hasRefreshToken) ? form("/oauth/sign-out", "Sign out", "secondary") : "";
  return `<div class="actions">${signIn}${signOut}</div>`;
}
