// The browser routes (status page, sign-in/out forms, OAuth callback), apart: they render HTML and check form posts.
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuthStatus } from "../auth/auth-client.ts";
import { CALLBACK_PATH } from "../config/options.ts";
import { describeError, isProxyError, ProxyError } from "../lib/errors.ts";
import type { Logger } from "../lib/logger.ts";
import { readBody } from "../proxy/read-body.ts";
import { writeErrorResponse } from "../proxy/relay-errors.ts";
import { clientBaseUrl } from "./client-config.ts";
import { renderCallbackResult, renderHomePage } from "./home-page.ts";
import { sendPage } from "./html-page.ts";
import type { HttpFaceOptions } from "./http-face-options.ts";
import { writeJsonError } from "./json-response.ts";
import type { Router } from "./router.ts";

/**
 * Registers the OAuth callback, `/` (the status page) and the `POST /oauth/sign-in` and `/oauth/sign-out` forms on
 * `router`; `csrf` is the form token the page's buttons carry.
 */
export function addPageRoutes(router: Router, options: HttpFaceOptions, logger: Logger, csrf: string): void {
  const { relay, guard, auth } = options;

  router.add("GET", CALLBACK_PATH, "callback", async (_req, res, { query }) => {
    if (!auth) {
      writeJsonError(res, 404, "This proxy does not use OAuth for its upstream (static Authorization header).");
      return;
    }
    const result = await auth.handleCallback(new URLSearchParams(query));
    // A refused callback while signed in is usually a reload of the one that worked: the page says so.
    const current = result.ok ? undefined : await auth.status().catch(() => undefined);
    const { status, page } = renderCallbackResult(result, csrf, current);
    sendPage(res, status, page);
  });

  router.add("GET", "/", "home", async (req, res) => {
    await sendHome(req, res, 200);
  });

  router.add("POST", "/oauth/sign-in", "sign-in", async (req, res) => {
    if (!auth) return refuseWithoutOAuth(req, res, "start");
    if (!(await checkForm(req, res))) return;
    try {
      // The page redirects this tab to the authorization server: no second tab from the browser opener.
      const handle = await auth.startSignIn({ reason: "page", openBrowser: false });
      res.writeHead(303, { location: handle.url, "cache-control": "no-store", "referrer-policy": "no-referrer" });
      res.end();
    } catch (error) {
      logger.warn("sign-in could not start", { error: describeError(error) });
      await sendHome(req, res, 502, asProxyError(error));
    }
  });

  router.add("POST", "/oauth/sign-out", "sign-out", async (req, res) => {
    if (!auth) return refuseWithoutOAuth(req, res, "end");
    if (!auth.clear)
      return writeJsonError(res, 501, "This proxy cannot sign out from the page; use its clear command.");
    if (!(await checkForm(req, res))) return;
    try {
      const outcome = await auth.clear();
      const revoked = (outcome as { revoked?: unknown } | undefined)?.revoked === true;
      logger.info(`Signed out of ${auth.serverUrl}${revoked ? " (tokens revoked)" : ""}.`);
      // A short-lived cookie carries the notice to the page (the URL stays "/": a reload shows no stale notice).
      res.writeHead(303, {
        location: "/",
        "cache-control": "no-store",
        "set-cookie": `${SIGNED_OUT_COOKIE}=${revoked ? "revoked" : "1"}; Path=/; Max-Age=60; HttpOnly; SameSite=Strict`,
      });
      res.end();
    } catch (error) {
      await sendHome(req, res, 500, asProxyError(error));
    }
  });

  async function sendHome(req: IncomingMessage, res: ServerResponse, status: number, error?: ProxyError) {
    const signedOutCookie = readCookie(req.headers.cookie, SIGNED_OUT_COOKIE);
    let authStatus: AuthStatus | undefined;
    if (auth) {
      try {
        authStatus = await auth.status();
      } catch (statusError) {
        error ??= asProxyError(statusError);
      }
    }
    const page = renderHomePage({
      upstreamUrl: relay.upstream.href,
      proxyBaseUrl: clientBaseUrl(req.headers.host, relay.signInPageUrl, options.publicBaseUrl?.()),
      status:
        authStatus ??
        (auth
          ? { serverUrl: auth.serverUrl, signedIn: false, hasRefreshToken: false, scopes: [], storeKey: "" }
          : undefined),
      csrf,
      apiKeyRequired: guard.requiresKey,
      launch: options.launch,
      canSignOut: typeof auth?.clear === "function",
      error,
      signedOut: signedOutCookie === undefined ? undefined : { revoked: signedOutCookie === "revoked" },
      hiddenTools: relay.hiddenToolPatterns,
    });
    const clear = signedOutCookie === undefined ? [] : ["set-cookie", `${SIGNED_OUT_COOKIE}=; Path=/; Max-Age=0`];
    sendPage(res, status, page, clear);
  }

  /**
   * With a static Authorization header there is no sign-in to start or end: say so at once (409, code USAGE with
   * `data.staticAuthorization`; the page again for a browser's form post). Changes nothing, so no form check.
   */
  async function refuseWithoutOAuth(req: IncomingMessage, res: ServerResponse, what: "start" | "end") {
    const error = new ProxyError(
      "USAGE",
      `This proxy uses a static Authorization header for ${relay.upstream.href}; there is no sign-in to ${what}.`,
      {
        hint: "Remove --header Authorization (or the server's Authorization entry under `headers` in the config file) to use OAuth.",
        details: { staticAuthorization: true },
      },
    );
    if (/text\/html/.test(req.headers.accept ?? "")) return sendHome(req, res, 409, error);
    writeErrorResponse(res, error, { status: 409 });
  }

  /**
   * Same-origin form posts only: the Origin (when sent) must be this page's own (RequestGuard.isOwnPageOrigin:
   * the Host's, with the scheme the request arrived on, or https behind a TLS-ending reverse proxy when listed),
   * and the CSRF token must match.
   */
  async function checkForm(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const origin = req.headers.origin;
    const tls = (req.socket as { encrypted?: boolean }).encrypted === true;
    if (origin !== undefined && !guard.isOwnPageOrigin(origin, req.headers.host, tls)) {
      writeJsonError(
        res,
        403,
        "Cross-origin form posts are refused: the form must come from this proxy's own page. Behind an HTTPS reverse proxy, pass the Host header through and list the public origin with --allow-origin.",
      );
      return false;
    }
    const read = await readBody(req, 4096);
    const presented = read.ok ? new URLSearchParams(read.body?.toString("utf8") ?? "").get("csrf") : null;
    if (!presented || !sameSecret(presented, csrf)) {
      writeJsonError(res, 403, "The form is stale or forged; reload the page and try again.");
      return false;
    }
    return true;
  }
}

/** Set by Sign out for the next page load only ("1", or "revoked" when the authorization server revoked the grant). */
const SIGNED_OUT_COOKIE = "mcp-u2m-proxy-signed-out";

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(";") ?? []) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function asProxyError(error: unknown): ProxyError {
  return isProxyError(error) ? error : new ProxyError("INTERNAL", describeError(error), { cause: error });
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
