/**
 * Who is calling the HTTP face (`serve --identity MODE`), and the public URL it is reached at. Parsed and checked
 * here; the server's identity gate (src/server/identity/) applies it per request.
 */
import { ProxyError } from "../lib/errors.ts";
import { isLoopbackHost } from "../lib/loopback.ts";

export type IdentityMode =
  /** One user (the default): the proxy's own sign-ins serve every caller. */
  | { kind: "none" }
  /** Databricks Apps: the platform's proxy authenticates and names the user in X-Forwarded-User. */
  | { kind: "databricks-apps" }
  /** A trusted front names the user in a header; only with the inbound secret shared with that front. */
  | { kind: "header"; header: string }
  /** A front signs an assertion (a JWT in `header`), verified against its JWKS. */
  | {
      kind: "jwt";
      jwksUrl: string;
      header: string;
      audience: string;
      issuer: string | undefined;
      /** The claim that names the user (default `sub`). */
      claim: string;
    };

export interface IdentityOptions {
  mode: IdentityMode;
  /** Users (id, e-mail or user name) who may see every user's state and revoke their grants (--admin). */
  admins: string[];
  /** The proxy's public base URL (--public-url), without a trailing slash: redirect URI, page links, Origin. */
  publicUrl: string | undefined;
}

export interface IdentityFlagValues {
  identity?: string | undefined;
  "identity-header"?: string | undefined;
  "identity-audience"?: string | undefined;
  "identity-issuer"?: string | undefined;
  "identity-claim"?: string | undefined;
  admin?: string[] | undefined;
  "public-url"?: string | undefined;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers that carry something else and can never name a user. */
const RESERVED_HEADERS = new Set(["host", "authorization", "cookie", "content-type", "content-length", "x-api-key"]);

/**
 * The identity options from the serve flags. `apiKey` is the inbound secret (`header:NAME` needs it: anyone who
 * reaches the port could set the header otherwise).
 * @throws ProxyError USAGE naming the flag and what to give instead.
 */
export function parseIdentityOptions(values: IdentityFlagValues, apiKey: string | undefined): IdentityOptions {
  const mode = parseMode(values);
  const usesJwtFlags = ["identity-header", "identity-audience", "identity-issuer", "identity-claim"].filter(
    (flag) => values[flag as keyof IdentityFlagValues] !== undefined,
  );
  if (mode.kind !== "jwt" && usesJwtFlags.length > 0) {
    throw usage(`--${usesJwtFlags[0]} applies to --identity jwt:JWKS_URL only.`);
  }
  if (mode.kind === "header" && !apiKey) {
    throw usage(
      `--identity header:${mode.header} trusts that header only from the front that shares the inbound secret; no --api-key is set.`,
      "Set --api-key (or MCP_PROXY_API_KEY) to the secret the front sends, or use --identity jwt:JWKS_URL for a front that signs its assertions.",
    );
  }
  const admins = (values.admin ?? []).map((admin) => admin.trim()).filter(Boolean);
  if (admins.length > 0 && mode.kind === "none") {
    throw usage("--admin needs an --identity mode: without one there is a single user.");
  }
  return { mode, admins, publicUrl: parsePublicUrl(values["public-url"]) };
}

function parseMode(values: IdentityFlagValues): IdentityMode {
  const raw = values.identity?.trim();
  if (raw === undefined || raw === "" || raw === "none") return { kind: "none" };
  if (raw === "databricks-apps") return { kind: "databricks-apps" };
  if (raw.startsWith("header:")) return { kind: "header", header: headerName(raw.slice(7), "--identity header:NAME") };
  if (raw.startsWith("jwt:")) {
    const jwksUrl = jwksUrlOf(raw.slice(4));
    const headerFlag = values["identity-header"];
    if (!headerFlag) {
      throw usage(
        "--identity jwt:JWKS_URL needs --identity-header NAME: the header the front puts its assertion in.",
        "E.g. --identity-header Cf-Access-Jwt-Assertion (Cloudflare Access), X-Pomerium-Jwt-Assertion, x-goog-iap-jwt-assertion.",
      );
    }
    const audience = values["identity-audience"]?.trim();
    if (!audience) {
      throw usage(
        "--identity jwt:JWKS_URL needs --identity-audience: without it an assertion the front issued for any other application would be accepted.",
        "Give the audience the front puts in its assertions for this application (its AUD tag or client id).",
      );
    }
    const claim = values["identity-claim"]?.trim() || "sub";
    return {
      kind: "jwt",
      jwksUrl,
      header: headerName(headerFlag, "--identity-header"),
      audience,
      issuer: values["identity-issuer"]?.trim() || undefined,
      claim,
    };
  }
  throw usage(
    `--identity must be none, databricks-apps, header:NAME or jwt:JWKS_URL, not "${raw}".`,
    "E.g. --identity databricks-apps on Databricks Apps, --identity header:X-Auth-Request-Email behind oauth2-proxy.",
  );
}

function headerName(raw: string, flag: string): string {
  const name = raw.trim().toLowerCase();
  if (!HEADER_NAME.test(name)) throw usage(`${flag} must be a header name, not "${raw}".`);
  if (RESERVED_HEADERS.has(name)) throw usage(`${flag} cannot be ${name}: that header carries something else.`);
  return name;
}

function jwksUrlOf(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw usage(`--identity jwt: needs the JWKS URL of the front, not "${raw}".`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) {
    throw usage(`The JWKS URL ${url.origin} must use https (http only on this machine): its keys decide who you are.`);
  }
  return url.href;
}

function parsePublicUrl(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw usage(`--public-url must be an absolute URL such as https://proxy.example.com, not "${raw}".`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw usage("--public-url must be an http(s) URL.");
  if (url.username || url.password || url.search || url.hash) {
    throw usage("--public-url must not carry credentials, a query or a fragment.");
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

function usage(message: string, hint?: string): ProxyError {
  return new ProxyError("USAGE", message, {
    hint: hint ?? "See `mcp-u2m-proxy serve --help` and docs/identity.md.",
  });
}
