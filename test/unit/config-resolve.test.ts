// Finding the config file (--config > MCP_U2M_PROXY_CONFIG > ./mcp-u2m-proxy.json), turning an entry into the
// UpstreamOptions the program takes, the environment read in one place, and the one table of defaults.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { OAUTH_REQUEST_TIMEOUT_MS } from "../../src/auth/secure-fetch.ts";
import { parseConfig } from "../../src/config/config-file.ts";
import { DEFAULTS, defaultAuthDir } from "../../src/config/defaults.ts";
import { readEnvironment } from "../../src/config/environment.ts";
import {
  CALLBACK_PATH,
  DEFAULT_CALLBACK_HOST,
  DEFAULT_PORT,
  REFRESH_SKEW_MS,
  SIGN_IN_TIMEOUT_MS,
  STALE_CLIENT_WAIT_MS,
} from "../../src/config/options.ts";
import { findConfigPath, toUpstreamOptions } from "../../src/config/resolve-config.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../../src/proxy/read-body.ts";
import { DEFAULT_MAX_STREAMS, DEFAULT_MAX_STREAMS_PER_SESSION } from "../../src/proxy/stream-limits.ts";
import { DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_IDLE_MS } from "../../src/server/transport-bridges.ts";

const cwd = mkdtempSync(join(tmpdir(), "config-resolve-"));
const empty = mkdtempSync(join(tmpdir(), "config-resolve-empty-"));
writeFileSync(join(cwd, "mcp-u2m-proxy.json"), '{"mcpServers": {}}');
after(() => {
  rmSync(cwd, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
});

test("findConfigPath: --config wins over MCP_U2M_PROXY_CONFIG, which wins over ./mcp-u2m-proxy.json", () => {
  const env = { MCP_U2M_PROXY_CONFIG: "from-env.json" };
  assert.deepEqual(findConfigPath({ flag: "flag.json", env, cwd }), { path: join(cwd, "flag.json"), from: "--config" });
  assert.deepEqual(findConfigPath({ env, cwd }), { path: join(cwd, "from-env.json"), from: "MCP_U2M_PROXY_CONFIG" });
  assert.deepEqual(findConfigPath({ env: {}, cwd }), { path: join(cwd, "mcp-u2m-proxy.json"), from: "default" });
  assert.equal(findConfigPath({ env: {}, cwd: empty }), undefined, "no default file, nothing named");
});

test("findConfigPath: a named file is returned even when missing; blank values are unset; ~/ is home", () => {
  assert.equal(findConfigPath({ flag: "/nowhere/x.json", env: {}, cwd: empty })?.path, "/nowhere/x.json");
  assert.equal(findConfigPath({ env: { MCP_U2M_PROXY_CONFIG: "  " }, cwd: empty }), undefined);
  assert.equal(findConfigPath({ flag: "", env: {}, cwd })?.from, "default");
  assert.equal(findConfigPath({ flag: "~/cfg/mcp.json", env: {}, cwd })?.path, join(homedir(), "cfg", "mcp.json"));
  assert.equal(
    findConfigPath({ env: { MCP_U2M_PROXY_CONFIG: "~/.cursor/mcp.json" }, cwd })?.path,
    join(homedir(), ".cursor", "mcp.json"),
  );
});

const [entry] = parseConfig(
  JSON.stringify({
    mcpServers: {
      jira: {
        url: "https://jira.example.com/mcp",
        headers: { "X-Tenant": "acme" },
        "mcp-u2m-proxy": {
          oauth: {
            clientId: "file-client",
            clientSecret: "file-secret",
            scope: "read",
            resource: false,
            authorizeParams: { audience: "api", prompt: "consent" },
          },
        },
      },
    },
  }),
  "/home/me/mcp-u2m-proxy.json",
  {},
).servers;

test("toUpstreamOptions: an entry alone becomes the UpstreamOptions the program takes", () => {
  assert.ok(entry);
  assert.deepEqual(toUpstreamOptions(entry), {
    url: "https://jira.example.com/mcp",
    clientId: "file-client",
    clientSecret: "file-secret",
    clientMetadataUrl: undefined,
    scope: "read",
    authorizeParams: { audience: "api", prompt: "consent" },
    headers: { "x-tenant": "acme" },
    sendResource: false,
    allowPkceUnverified: false,
    useIdToken: false,
    acceptIssuer: undefined,
  });
});

test("toUpstreamOptions: command-line options win; maps merge per name; credentials go as a pair", () => {
  assert.ok(entry);
  const merged = toUpstreamOptions(entry, {
    clientId: "cli-client",
    scope: "write",
    headers: { "X-Tenant": "other", "X-Extra": "1" },
    authorizeParams: { prompt: "login" },
    sendResource: true,
    allowPkceUnverified: true,
  });
  assert.equal(merged.clientId, "cli-client");
  assert.equal(merged.clientSecret, undefined, "the file's secret belongs to the file's client");
  assert.equal(merged.scope, "write");
  assert.deepEqual(merged.headers, { "x-tenant": "other", "x-extra": "1" });
  assert.deepEqual(merged.authorizeParams, { audience: "api", prompt: "login" });
  assert.equal(merged.sendResource, false, "the file switched the resource parameter off");
  assert.equal(merged.allowPkceUnverified, true);
  assert.equal(
    toUpstreamOptions({ ...entry, oauth: { ...entry.oauth, resource: true } }, { sendResource: false }).sendResource,
    false,
  );
});

test("toUpstreamOptions returns new objects: changing them never changes the entry", () => {
  assert.ok(entry);
  const options = toUpstreamOptions(entry);
  options.headers["x-tenant"] = "changed";
  options.authorizeParams.audience = "changed";
  assert.equal(entry.headers["x-tenant"], "acme");
  assert.equal(entry.oauth.authorizeParams.audience, "api");
});

test("readEnvironment: every variable the program reads, trimmed, blank as unset", () => {
  const environment = readEnvironment({
    UPSTREAM_MCP_URL: " https://u.example/mcp ",
    MCP_U2M_PROXY_CONFIG: "c.json",
    MCP_AUTH_DIR: "/tmp/auth",
    MCP_PROXY_STORE: " redis://r.example:6379 ",
    MCP_PROXY_STORE_LEASE: " 5 ",
    OAUTH_CALLBACK_PORT: "9000",
    DATABRICKS_APP_PORT: " 8001 ",
    MCP_PROXY_API_KEY: "k",
    MCP_PROXY_API_KEY_FILE: "",
    MCP_PROXY_STORE_KEY: " sk ",
    MCP_PROXY_STORE_KEY_FILE: "/keys/store",
    MCP_PROXY_NEW_STORE_KEY: "nk",
    MCP_PROXY_KEYCHAIN: " True ",
    MCP_PROXY_KEYCHAIN_SERVICE: " svc ",
    MCP_PROXY_GENERATE_API_KEY: " 1 ",
    BROWSER: "firefox",
    DISPLAY: ":0",
    MCP_U2M_PROXY_STACK: "1",
    https_proxy: "http://proxy:3128",
    PATH: "/usr/bin:/bin",
    npm_command: "exec",
  });
  assert.deepEqual(environment, {
    upstreamUrl: "https://u.example/mcp",
    configPath: "c.json",
    authDir: "/tmp/auth",
    store: "redis://r.example:6379",
    storeLease: "5",
    port: "9000",
    databricksAppPort: "8001",
    apiKey: "k",
    apiKeyFile: undefined,
    storeKey: "sk",
    storeKeyFile: "/keys/store",
    newStoreKey: "nk",
    keychain: true,
    keychainService: "svc",
    generateApiKey: true,
    browser: "firefox",
    display: ":0",
    printStack: true,
    outboundProxy: true,
    path: "/usr/bin:/bin",
    npmCommand: "exec",
  });
  const none = readEnvironment({});
  assert.equal(none.printStack, false);
  assert.equal(none.outboundProxy, false);
  assert.equal(none.port, undefined);
  assert.equal(readEnvironment({ DISPLAY: ":1", WAYLAND_DISPLAY: "wayland-0" }).display, "wayland-0");
  assert.equal(none.generateApiKey, false);
  assert.equal(none.keychain, false);
  assert.equal(readEnvironment({ MCP_PROXY_GENERATE_API_KEY: "0" }).generateApiKey, false);
  for (const name of ["HTTPS_PROXY", "HTTP_PROXY", "http_proxy"]) {
    assert.equal(readEnvironment({ [name]: "http://p:1" }).outboundProxy, true, name);
  }
});

test("defaults: one table, and the named constants the modules export are its values", () => {
  assert.deepEqual(
    [
      DEFAULT_PORT,
      DEFAULT_CALLBACK_HOST,
      CALLBACK_PATH,
      SIGN_IN_TIMEOUT_MS,
      REFRESH_SKEW_MS,
      STALE_CLIENT_WAIT_MS,
      OAUTH_REQUEST_TIMEOUT_MS,
      DEFAULT_MAX_BODY_BYTES,
      DEFAULT_MAX_STREAMS,
      DEFAULT_MAX_STREAMS_PER_SESSION,
      DEFAULT_MAX_SESSIONS,
      DEFAULT_SESSION_IDLE_MS,
    ],
    [8000, "127.0.0.1", "/oauth/callback", 300_000, 60_000, 10_000, 30_000, 4 * 1024 * 1024, 2000, 4, 1000, 600_000],
  );
  assert.equal(DEFAULTS.port, DEFAULT_PORT);
  assert.equal(DEFAULTS.configFile, "mcp-u2m-proxy.json");
  assert.equal(defaultAuthDir("/home/me"), join("/home/me", ".mcp", "auth"));
});
