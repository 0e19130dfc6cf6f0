// The face's front door: Host, Origin, CORS, API key and admission checks before any route runs; routes live apart.
import { randomBytes } from "node:crypto";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { describeError, ProxyError } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/logger.ts";
import { writeErrorResponse } from "../proxy/relay-errors.ts";
import { addGenericRelay } from "./generic-relay-route.ts";
import { addHealthzRoute } from "./healthz-route.ts";
import type { HttpFaceOptions } from "./http-face-options.ts";
import { writeJsonError } from "./json-response.ts";
import { addMcpRoutes, isLongLivedStream } from "./mcp-routes.ts";
import { addPageRoutes } from "./page-routes.ts";
import { Router, splitTarget } from "./router.ts";

export type { FaceAuthClient, HttpFaceOptions } from "./http-face-options.ts";

/** Route names whose requests need the inbound API key (when one is configured). */
const KEYED_ROUTES = new Set(["mcp", "sse", "message", "relay", "home", "sign-in", "sign-out"]);
/** Routes for people: a missing key gets a Basic challenge so the browser asks for it. */
const PAGE_ROUTES = new Set(["home", "sign-in", "sign-out"]);
/** Routes that speak to MCP clients, which may be browser apps on an allowed origin (CORS). */
const CORS_ROUTES = new Set(["mcp", "sse", "message", "relay"]);

/**
 * The HTTP face's request listener: security checks (Host, Origin, API key), then a tiny router:
 * `/mcp` (Streamable HTTP pass-through), `/sse` + `/message` (legacy HTTP+SSE), `/oauth/callback`, `/`, `/healthz`,
 * sign-in/out forms, and a generic authenticated relay for every other path on the upstream origin.
 *
 * @see MCP 2025-11-25 basic/transports §Security Warning (Origin validation, 403)
 */
export function createRequestListener(options: HttpFaceOptions): RequestListener {
  const { guard } = options;
  const logger = options.logger ?? silentLogger;
  const csrf = options.csrf ?? randomBytes(32).toString("base64url");
  const router = new Router();
  addMcpRoutes(router, options, logger);
  addPageRoutes(router, options, logger, csrf);
  addHealthzRoute(router, options);
  addGenericRelay(router, options.relay);

  return (req, res) => {
    const method = req.method ?? "GET";
    const context = splitTarget(req.url);
    if (!context.path.startsWith("/")) {
      writeJsonError(res, 400, "Only origin-form request targets are served.");
      return;
    }
    // DNS rebinding and cross-site requests are refused before anything else runs.
    if (!guard.isHostAllowed(req.headers.host)) {
      logger.warn("refused a request with a foreign Host header", { host: req.headers.host });
      writeJsonError(res, 403, "Invalid Host header.");
      return;
    }
    const origin = req.headers.origin;
    if (!guard.isOriginAllowed(origin)) {
      logger.warn("refused a request from a foreign Origin", { origin });
      writeJsonError(res, 403, "Origin not allowed.");
      return;
    }
    if (method === "OPTIONS" && origin !== undefined && req.headers["access-control-request-method"]) {
      answerPreflight(req, res, origin);
      return;
    }
    const route = router.match(method, context.path);
    if (!route) {
      writeJsonError(res, 404, "Not found.");
      return;
    }
    if ("allow" in route) {
      writeJsonError(res, 405, "Method not allowed.", ["allow", route.allow.join(", ")]);
      return;
    }
    if (KEYED_ROUTES.has(route.name) && guard.requiresKey && !guard.hasValidKey(req.headers)) {
      refuseWithoutKey(res, PAGE_ROUTES.has(route.name));
      return;
    }
    if (CORS_ROUTES.has(route.name)) {
      const refusal = guard.browserRefusal(req.headers);
      if (refusal !== undefined) {
        logger.warn("refused a browser request to a relay path", { reason: refusal, path: context.path });
        writeJsonError(
          res,
          403,
          `Refused ${refusal}: the relay carries your upstream sign-in, so only MCP clients and allowed origins may use it.`,
        );
        return;
      }
    }
    if (origin !== undefined && CORS_ROUTES.has(route.name)) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("access-control-expose-headers", "Mcp-Session-Id, MCP-Protocol-Version");
      res.setHeader("vary", "Origin");
    }
    if (options.traffic && CORS_ROUTES.has(route.name)) {
      const stream = route.name === "sse" || (route.name === "mcp" && isLongLivedStream(req));
      if (!options.traffic.admit(req, res, route.name, stream)) return;
    }
    if (options.sessionBinding && !options.sessionBinding.admit(req, res, route.name, context.query)) return;
    try {
      const result = route.handler(req, res, context);
      if (result instanceof Promise) result.catch((error: unknown) => internalError(res, error, logger));
    } catch (error) {
      internalError(res, error, logger);
    }
  };
}

function answerPreflight(req: IncomingMessage, res: ServerResponse, origin: string): void {
  const requested = req.headers["access-control-request-headers"];
  const headers = [
    "access-control-allow-origin",
    origin,
    "access-control-allow-methods",
    "GET, POST, DELETE, OPTIONS",
    "access-control-max-age",
    "600",
    "vary",
    "Origin",
  ];
  // Echo only well-formed header names.
  if (typeof requested === "string" && /^[\w\s,-]*$/.test(requested)) {
    headers.push("access-control-allow-headers", requested);
  }
  res.writeHead(204, headers);
  res.end();
}

function refuseWithoutKey(res: ServerResponse, page: boolean): void {
  const message = "This proxy requires its API key: send Authorization: Bearer <key> or X-API-Key: <key>.";
  if (page) {
    // Browsers ask for credentials on a Basic challenge; the key goes in the password field.
    writeJsonError(res, 401, message, ["www-authenticate", 'Basic realm="mcp-u2m-proxy", charset="UTF-8"']);
    return;
  }
  // 403, not 401: a 401 makes MCP clients start OAuth discovery against the proxy.
  writeJsonError(res, 403, message);
}

function internalError(res: ServerResponse, error: unknown, logger: Logger): void {
  logger.error("request failed inside the proxy", { error: describeError(error) });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  writeErrorResponse(res, new ProxyError("INTERNAL", "The proxy failed to handle the request.", { cause: error }), {
    statusOnly: true,
  });
}
