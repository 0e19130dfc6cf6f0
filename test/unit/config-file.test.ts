// biome-ignore-all lint/suspicious/noTemplateCurlyInString: config files write ${VAR} on purpose
// The config file: the files hosts write (Claude Code, Cursor, VS Code, FastMCP, Claude Desktop with mcp-remote),
// our own keys, skipped and disabled entries, and every error naming the file, the server and the key
// (CONFIG_INVALID, exit 2).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { exitCodeFor } from "../../src/cli/exit-codes.ts";
import { loadConfigFile, parseConfig } from "../../src/config/config-file.ts";
import { toUpstreamOptions } from "../../src/config/resolve-config.ts";
import { isProxyError } from "../../src/lib/errors.ts";

const FILE = "/home/me/project/mcp-u2m-proxy.json";
const env = { LINEAR_TOKEN: "lin-123", CLIENT_SECRET: "s3cret", HOME: "/home/me" };
const parse = (value: unknown, vars: NodeJS.ProcessEnv = env, path = FILE) =>
  parseConfig(typeof value === "string" ? value : JSON.stringify(value), path, vars);

const dir = mkdtempSync(join(tmpdir(), "config-file-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Asserts CONFIG_INVALID, exit 2, the message, and the file/server/key in details. */
function rejects(value: unknown, message: RegExp, where: { server?: string; key?: string } = {}, vars = env) {
  assert.throws(
    () => parse(value, vars),
    (error: unknown) => {
      assert.ok(isProxyError(error, "CONFIG_INVALID"), String(error));
      assert.equal(exitCodeFor(error.code), 2);
      assert.match(error.message, message);
      assert.ok(error.message.startsWith("mcp-u2m-proxy.json"), error.message);
      assert.ok(error.hint, "every error says what to do next");
      assert.equal(error.details?.file, FILE);
      assert.equal(error.details?.server, where.server);
      assert.equal(error.details?.key, where.key);
      return true;
    },
  );
}

test("Claude Code .mcp.json: http and sse entries with headers, a stdio entry skipped, its oauth.clientId", () => {
  const config = parse({
    mcpServers: {
      linear: { type: "http", url: "https://mcp.linear.app/mcp", headers: { "X-Team": "${LINEAR_TOKEN}" } },
      legacy: { type: "sse", url: "https://old.example.com/sse" },
      inhouse: {
        type: "http",
        url: "https://mcp.internal.example/mcp",
        oauth: { clientId: "pre-registered", callbackPort: 8080 },
      },
      files: { type: "stdio", command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"] },
    },
  });
  assert.deepEqual(
    config.servers.map((s) => [s.name, s.url, s.transport, s.source]),
    [
      ["linear", "https://mcp.linear.app/mcp", "streamable-http", "remote"],
      ["legacy", "https://old.example.com/sse", "sse", "remote"],
      ["inhouse", "https://mcp.internal.example/mcp", "streamable-http", "remote"],
    ],
  );
  assert.deepEqual(config.servers[0]?.headers, { "x-team": "lin-123" });
  assert.equal(config.servers[2]?.oauth.clientId, "pre-registered");
  assert.match(config.warnings.join("\n"), /server "inhouse": ignored here: oauth\.callbackPort \(/);
  assert.deepEqual(config.skipped, [
    { name: "files", reason: "a stdio command (npx): this proxy relays remote servers, never runs one" },
  ]);
  // The compatibility view the CLI reads today.
  assert.deepEqual(config.servers[0]?.upstream, {
    url: "https://mcp.linear.app/mcp",
    clientId: undefined,
    clientSecret: undefined,
    clientMetadataUrl: undefined,
    scope: undefined,
    authorizeParams: {},
    headers: { "x-team": "lin-123" },
    sendResource: true,
    allowPkceUnverified: false,
    useIdToken: false,
    acceptIssuer: undefined,
  });
});

test("Cursor mcp.json: url with ${env:VAR} headers (type detected), stdio and mcp-remote commands", () => {
  const config = parse({
    mcpServers: {
      sentry: { url: "https://mcp.sentry.dev/mcp", headers: { Authorization: "Bearer ${env:LINEAR_TOKEN}" } },
      github: { command: "docker", args: ["run", "-i", "--rm", "ghcr.io/github/github-mcp-server"], env: {} },
      atlassian: { command: "npx", args: ["-y", "mcp-remote", "https://mcp.atlassian.com/v1/sse"] },
    },
  });
  assert.deepEqual(
    config.servers.map((s) => [s.name, s.transport, s.source]),
    [
      ["sentry", undefined, "remote"],
      ["atlassian", undefined, "mcp-remote"],
    ],
  );
  assert.equal(config.servers[0]?.headers.authorization, "Bearer lin-123");
  assert.deepEqual(
    config.skipped.map((entry) => entry.name),
    ["github"],
  );
});

test("VS Code .vscode/mcp.json: root servers, comments, trailing commas, inputs left alone", () => {
  const text = `{
  // Servers for this workspace
  "inputs": [{ "type": "promptString", "id": "token", "password": true }],
  "servers": {
    "github": { "type": "http", "url": "https://api.githubcopilot.com/mcp/" },
    /* a local one */
    "fetch": { "type": "stdio", "command": "uvx", "args": ["mcp-server-fetch"], },
  },
}`;
  const config = parse(text);
  assert.deepEqual(
    config.servers.map((s) => [s.name, s.url, s.transport]),
    [["github", "https://api.githubcopilot.com/mcp/", "streamable-http"]],
  );
  assert.deepEqual(
    config.skipped.map((s) => s.name),
    ["fetch"],
  );
});

test("FastMCP MCPConfig: transport http/sse, auth as a bearer token or oauth, stdio with transport stdio", () => {
  const config = parse({
    mcpServers: {
      weather: { url: "https://weather.example.com/mcp", transport: "http", auth: "${LINEAR_TOKEN}", timeout: 30000 },
      calendar: { url: "https://calendar.example.com/sse", transport: "sse", auth: "oauth" },
      keyed: { url: "https://k.example.com/mcp", auth: "ignored", headers: { Authorization: "Token abc" } },
      local: { command: "python", args: ["server.py"], transport: "stdio" },
    },
  });
  const [weather, calendar, keyed] = config.servers;
  assert.equal(weather?.transport, "streamable-http");
  assert.equal(weather?.headers.authorization, "Bearer lin-123");
  assert.deepEqual(weather?.extra, { timeout: 30000 });
  assert.equal(calendar?.transport, "sse");
  assert.deepEqual(calendar?.headers, {});
  assert.equal(keyed?.headers.authorization, "Token abc", "headers win over auth");
  assert.deepEqual(
    config.skipped.map((s) => s.name),
    ["local"],
  );
});

test("Windsurf serverUrl and Gemini CLI httpUrl are remote entries too", () => {
  const config = parse({
    mcpServers: {
      wind: { serverUrl: "https://w.example.com/mcp" },
      gem: { httpUrl: "https://g.example.com/mcp" },
    },
  });
  assert.deepEqual(
    config.servers.map((s) => [s.name, s.url, s.transport]),
    [
      ["wind", "https://w.example.com/mcp", undefined],
      ["gem", "https://g.example.com/mcp", "streamable-http"],
    ],
  );
});

test("Claude Desktop mcp-remote entries: --header with the entry's env, --transport, client info, ignored flags", () => {
  writeFileSync(join(dir, "headers.txt"), "# for sentry\nX-Org: ${ORG:-acme}\nAuthorization: Bearer from-file\n");
  const config = parse(
    {
      mcpServers: {
        sentry: {
          command: "npx",
          args: [
            "-y",
            "mcp-remote@0.1.29",
            "https://mcp.sentry.dev/mcp",
            "9696",
            "--header",
            "Authorization:${AUTH_HEADER}",
            "--transport",
            "sse-only",
            "--static-oauth-client-info",
            '{"client_id":"abc","client_secret":"${CLIENT_SECRET}"}',
            "--static-oauth-client-metadata",
            '{"scope":"org:read","client_name":"x"}',
            "--authorize-param",
            "audience=https://api.sentry.io",
            "--host",
            "127.0.0.1",
            "--keep-alive",
            "--debug",
          ],
          env: { AUTH_HEADER: "Bearer ${LINEAR_TOKEN}" },
        },
        win: { command: "cmd", args: ["/c", "npx", "-y", "mcp-remote", "https://w.example.com/mcp", "--allow-http"] },
        direct: {
          command: "/usr/local/bin/mcp-remote",
          args: ["https://d.example.com/mcp", "--header-file", "headers.txt", "--transport", "http-only"],
        },
        entra: { command: "npx", args: ["mcp-remote", "https://e.example.com/mcp", "--disable-resource-parameter"] },
      },
    },
    env,
    join(dir, "mcp-u2m-proxy.json"),
  );
  const [sentry, win, direct, entra] = config.servers;
  assert.equal(sentry?.source, "mcp-remote");
  assert.equal(sentry?.url, "https://mcp.sentry.dev/mcp");
  assert.deepEqual(sentry?.headers, { authorization: "Bearer lin-123" });
  assert.equal(sentry?.transport, "sse");
  assert.deepEqual(
    [sentry?.oauth.clientId, sentry?.oauth.clientSecret, sentry?.oauth.scope],
    ["abc", "s3cret", "org:read"],
  );
  assert.deepEqual(sentry?.oauth.authorizeParams, { audience: "https://api.sentry.io" });
  assert.deepEqual(
    sentry?.ignored.map((item) => item.split(" (")[0]),
    ["port 9696", "--static-oauth-client-metadata client_name", "--host", "--keep-alive"],
  );
  assert.match(config.warnings[0] ?? "", /^mcp-u2m-proxy\.json: server "sentry": ignored here: port 9696 \(/);
  assert.equal(win?.url, "https://w.example.com/mcp");
  assert.equal(win?.allowInsecureHttp, true);
  assert.deepEqual(direct?.headers, { "x-org": "acme", authorization: "Bearer from-file" });
  assert.equal(direct?.transport, "streamable-http");
  assert.equal(entra?.oauth.resource, false);
  assert.equal(entra?.upstream.sendResource, false);
});

test("the ID token as the bearer: mcp-remote's --use-id-token and our oauth.useIdToken; anything but a boolean is an error", () => {
  const config = parse({
    mcpServers: {
      agentcore: { command: "npx", args: ["-y", "mcp-remote", "https://a.example.com/mcp", "--use-id-token"] },
      cognito: { url: "https://c.example.com/mcp", "mcp-u2m-proxy": { oauth: { useIdToken: true } } },
      plain: { url: "https://p.example.com/mcp" },
    },
  });
  const [agentcore, cognito, plain] = config.servers;
  assert.equal(agentcore?.upstream.useIdToken, true);
  assert.deepEqual(agentcore?.ignored, [], "no longer an ignored flag");
  assert.equal(cognito?.upstream.useIdToken, true);
  assert.equal(plain?.upstream.useIdToken, false);
  assert.throws(
    () =>
      parse({
        mcpServers: { bad: { url: "https://b.example.com/mcp", "mcp-u2m-proxy": { oauth: { useIdToken: "yes" } } } },
      }),
    /server "bad".*mcp-u2m-proxy\.oauth\.useIdToken.*must be true or false/s,
  );
});

test("hidden tools: mcp-remote's --ignore-tool and our ignoreTools, merged; anything but a list of names is an error", () => {
  const config = parse({
    mcpServers: {
      jira: {
        command: "npx",
        args: ["-y", "mcp-remote", "https://j.example.com/mcp", "--ignore-tool", "delete*", "--ignore-tool", "admin"],
        "mcp-u2m-proxy": { ignoreTools: ["admin", " *_write "] },
      },
      plain: { url: "https://p.example.com/mcp" },
    },
  });
  const [jira, plain] = config.servers;
  assert.deepEqual(jira?.ignoreTools, ["delete*", "admin", "*_write"]);
  assert.deepEqual(jira?.ignored, [], "no longer an ignored flag");
  assert.deepEqual(plain?.ignoreTools, []);
  rejects(
    { mcpServers: { bad: { url: "https://b.example.com/mcp", "mcp-u2m-proxy": { ignoreTools: "delete*" } } } },
    /must be a list of tool names or patterns/,
    { server: "bad", key: "mcp-u2m-proxy.ignoreTools" },
  );
  rejects(
    { mcpServers: { bad: { url: "https://b.example.com/mcp", "mcp-u2m-proxy": { ignoreTools: ["ok", ""] } } } },
    /must be a list of tool names or patterns/,
    { server: "bad", key: "mcp-u2m-proxy.ignoreTools[1]" },
  );
  rejects(
    { mcpServers: { bad: { command: "npx", args: ["mcp-remote", "https://b.example.com/mcp", "--ignore-tool"] } } },
    /--ignore-tool needs a value/,
    { server: "bad", key: "args[2]" },
  );
});

test("oauth.acceptIssuer: the one other issuer accepted from an entry's AS metadata; a non-URL is an error", () => {
  const config = parse({
    mcpServers: {
      jira: {
        url: "https://mcp.atlassian.com/v1/mcp/authv2",
        "mcp-u2m-proxy": { oauth: { acceptIssuer: "https://auth.atlassian.com" } },
      },
      plain: { url: "https://p.example.com/mcp" },
    },
  });
  const [jira, plain] = config.servers;
  assert.equal(jira?.upstream.acceptIssuer, "https://auth.atlassian.com");
  assert.equal(plain?.upstream.acceptIssuer, undefined);
  assert.equal(
    toUpstreamOptions(jira!, { acceptIssuer: "https://other.example" }).acceptIssuer,
    "https://other.example",
  );
  for (const bad of ["auth.atlassian.com", "https://a.example.com/?x=1", "ftp://a.example.com"]) {
    assert.throws(
      () =>
        parse({
          mcpServers: { bad: { url: "https://b.example.com/mcp", "mcp-u2m-proxy": { oauth: { acceptIssuer: bad } } } },
        }),
      /server "bad".*mcp-u2m-proxy\.oauth\.acceptIssuer.*must be an http\(s\) URL/s,
      bad,
    );
  }
});

test("disabled entries are listed, not served; our enabled wins over the host's", () => {
  const config = parse({
    mcpServers: {
      off: { url: "https://off.example.com/mcp", disabled: true },
      off2: { url: "https://off.example.com/mcp", enabled: false },
      off3: { url: "https://off.example.com/mcp", "mcp-u2m-proxy": { enabled: false } },
      // Disabled entries are not read further: an unset variable or a bad name there is no error.
      off4: { url: "https://${UNSET_HOST}/mcp", disabled: true },
      "my files": { command: "npx", args: ["server-filesystem"] },
      here: { url: "https://here.example.com/mcp", disabled: true, "mcp-u2m-proxy": { enabled: true } },
    },
  });
  assert.deepEqual(
    config.servers.map((s) => s.name),
    ["here"],
  );
  assert.deepEqual(
    config.skipped.map((s) => [s.name, s.reason.split(" (")[0]]),
    [
      ["off", "disabled"],
      ["off2", "disabled"],
      ["off3", "disabled"],
      ["off4", "disabled"],
      ["my files", "a stdio command"],
    ],
  );
});

test("our own keys under mcp-u2m-proxy win over the host's; unknown keys are kept (entry) or warned (ours)", () => {
  const config = parse({
    mcpServers: {
      inhouse: {
        url: "https://mcp.internal.example/mcp",
        description: "kept for the host",
        icon: "https://example.com/i.png",
        oauth: { clientId: "hosts-client" },
        "mcp-u2m-proxy": {
          oauth: {
            clientId: "ours",
            clientSecret: "${CLIENT_SECRET}",
            clientMetadataUrl: "https://proxy.example.com/client.json",
            scope: "read write",
            resource: false,
            authorizeParams: { prompt: "consent", access_type: "offline" },
            tokenEndpointAuth: "x",
          },
          rateLimit: { requestsPerMinute: 60, burst: 5 },
          futureKey: true,
        },
      },
      limited: { url: "https://l.example.com/mcp", "mcp-u2m-proxy": { rateLimit: { requestsPerMinute: 30 } } },
    },
  });
  const [server, limited] = config.servers;
  assert.deepEqual(server?.oauth, {
    clientId: "ours",
    clientSecret: "s3cret",
    clientMetadataUrl: "https://proxy.example.com/client.json",
    scope: "read write",
    resource: false,
    authorizeParams: { prompt: "consent", access_type: "offline" },
  });
  assert.deepEqual(server?.rateLimit, { requestsPerMinute: 60, burst: 5 });
  assert.deepEqual(server?.extra, { description: "kept for the host", icon: "https://example.com/i.png" });
  assert.deepEqual(
    server?.ignored.map((item) => item.split(" (")[0]),
    ["mcp-u2m-proxy.futureKey", "mcp-u2m-proxy.oauth.tokenEndpointAuth"],
  );
  assert.deepEqual(limited?.rateLimit, { requestsPerMinute: 30, burst: 30 }, "burst defaults to the rate");
  assert.equal(server?.upstream.clientId, "ours");
  assert.equal(server?.upstream.sendResource, false);
});

test("errors in the file: bad JSON with line and column, no servers object, missing file, a directory", () => {
  rejects('{\n  "mcpServers": {\n    "a": { "url": "https://a.example/mcp" }\n    "b": {}\n  }\n}', /line 4, column 5/);
  rejects(
    '{"mcpServers": {"a": {"url": "https://a.example/mcp"}}',
    /is not valid JSON at line 1, column 55: a comma or a closing bracket is missing/,
  );
  // Node 20 gives no position for an unexpected token: found by the parser's own prefix test.
  rejects('{\n  "mcpServers": True\n}', /is not valid JSON at line 2, column 17: unexpected character/);
  rejects('{"mcpServers": {"a": {"url": "https://a.example/mcp"}}}}', /at line 1, column 56/);
  rejects({ other: {} }, /has no "mcpServers" .*or "servers"/);
  rejects({ mcpServers: [] }, /"mcpServers" must be an object \(got an array\)/, { key: "mcpServers" });
  rejects([], /must hold a JSON object/);
  for (const path of [join(dir, "missing.json"), dir]) {
    assert.throws(
      () => loadConfigFile(path, env),
      (error: unknown) => isProxyError(error, "CONFIG_INVALID") && error.message.includes(path.split("/").pop() ?? ""),
    );
  }
});

test("errors in an entry name the server and the key", () => {
  rejects(
    { mcpServers: { jira: { type: "websocket", url: "https://j.example/mcp" } } },
    /^mcp-u2m-proxy\.json: server "jira": "type" must be one of http, streamable-http, sse \(got "websocket"\)\.$/,
    { server: "jira", key: "type" },
  );
  rejects({ mcpServers: { t: { transport: { type: "http" }, url: "https://t.example/mcp" } } }, /got an object/, {
    server: "t",
    key: "transport",
  });
  rejects(
    { mcpServers: { jira: { url: "https://${JIRA_HOST}/mcp" } } },
    /server "jira": "url" uses \$\{JIRA_HOST\}, which is not set/,
    { server: "jira", key: "url" },
  );
  rejects(
    { mcpServers: { "../etc": { url: "https://x.example/mcp" } } },
    /server "\.\.\/etc" has an unsafe name: a name is 1-64/,
    {
      server: "../etc",
    },
  );
  rejects({ mcpServers: { "..": { url: "https://x.example/mcp" } } }, /has an unsafe name/, { server: ".." });
  rejects({ mcpServers: { ["a".repeat(65)]: { url: "https://x.example/mcp" } } }, /has an unsafe name/, {
    server: "a".repeat(65),
  });
  rejects({ mcpServers: { none: { note: "x" } } }, /server "none" has neither "url" nor "command"/, { server: "none" });
  rejects({ mcpServers: { bad: { url: "not a url" } } }, /server "bad": "url" must be an http\(s\) URL/, {
    server: "bad",
    key: "url",
  });
  rejects({ mcpServers: { ws: { url: "wss://x.example/mcp" } } }, /must be an http\(s\) URL \(got a wss:\/\/ URL\)/, {
    server: "ws",
    key: "url",
  });
  rejects({ mcpServers: { cred: { url: "https://me:pw@x.example/mcp" } } }, /must not hold a user name or password/, {
    server: "cred",
    key: "url",
  });
  rejects({ mcpServers: { both: { url: "https://x.example/mcp", command: "npx" } } }, /"command" cannot be given/, {
    server: "both",
    key: "command",
  });
  rejects(
    { mcpServers: { h: { url: "https://x.example/mcp", headers: { "X-Key": 42 } } } },
    /"headers\.X-Key" must be a string/,
    { server: "h", key: "headers.X-Key" },
  );
  rejects(
    { mcpServers: { r: { url: "https://r.example/mcp", "mcp-u2m-proxy": { rateLimit: { requestsPerMinute: 0 } } } } },
    /"mcp-u2m-proxy\.rateLimit\.requestsPerMinute" must be a whole number of at least 1 \(got 0\)/,
    { server: "r", key: "mcp-u2m-proxy.rateLimit.requestsPerMinute" },
  );
  rejects(
    { mcpServers: { s: { url: "https://s.example/mcp", "mcp-u2m-proxy": { oauth: { clientSecret: "x" } } } } },
    /needs a "clientId" beside it/,
    { server: "s", key: "mcp-u2m-proxy.oauth.clientSecret" },
  );
  rejects(
    {
      mcpServers: {
        p: { url: "https://p.example/mcp", "mcp-u2m-proxy": { oauth: { authorizeParams: { state: "fixed" } } } },
      },
    },
    /"mcp-u2m-proxy\.oauth\.authorizeParams\.state" cannot be set/,
    { server: "p", key: "mcp-u2m-proxy.oauth.authorizeParams.state" },
  );
  rejects(
    { mcpServers: { e: { url: "https://e.example/mcp", "mcp-u2m-proxy": { enabled: "no" } } } },
    /"mcp-u2m-proxy\.enabled" must be true or false/,
    { server: "e", key: "mcp-u2m-proxy.enabled" },
  );
  rejects(
    { mcpServers: { jira: { url: "https://a.example/mcp" }, Jira: { url: "https://b.example/mcp" } } },
    /server "Jira" has a name that differs from "jira" only in case/,
    { server: "Jira" },
  );
});

test("errors in an mcp-remote entry name the argument", () => {
  rejects(
    { mcpServers: { m: { command: "npx", args: ["-y", "mcp-remote", "https://m.example/mcp", "--transport", "ws"] } } },
    /server "m": "args\[4\]" mcp-remote's --transport must be http-first, sse-first, http-only or sse-only/,
    { server: "m", key: "args[4]" },
  );
  rejects(
    { mcpServers: { m: { command: "npx", args: ["mcp-remote", "https://m.example/mcp", "--header", "no colon"] } } },
    /"args\[3\]" mcp-remote's --header needs "Name: value"/,
    { server: "m", key: "args[3]" },
  );
  rejects(
    {
      mcpServers: { m: { command: "npx", args: ["mcp-remote", "https://m.example/mcp", "--header-file", "nope.txt"] } },
    },
    /"args\[3\]" names the file \/home\/me\/project\/nope\.txt, which cannot be read \(ENOENT\)/,
    { server: "m", key: "args[3]" },
  );
  rejects({ mcpServers: { m: { command: "npx", args: ["mcp-remote"] } } }, /name no server URL/, {
    server: "m",
    key: "args[1]",
  });
});

test("an error never quotes a secret: headers by key only, a bad URL without its query", () => {
  assert.throws(
    () => parse({ mcpServers: { q: { url: "htp:/x.example/mcp?api_key=SUPERSECRET" } } }),
    (error: unknown) => isProxyError(error, "CONFIG_INVALID") && !error.message.includes("SUPERSECRET"),
  );
  assert.throws(
    () => parse({ mcpServers: { q: { url: "https://x.example/mcp", headers: { "Bad Name": "SUPERSECRET" } } } }),
    (error: unknown) =>
      isProxyError(error, "CONFIG_INVALID") && !`${error.message}${error.hint}`.includes("SUPERSECRET"),
  );
});

test("a config file on disk: relative --header-file resolves against its folder", () => {
  const sub = join(dir, "sub");
  mkdirSync(sub, { recursive: true });
  writeFileSync(join(sub, "h.txt"), "X-A: 1\n");
  writeFileSync(
    join(sub, "mcp-u2m-proxy.json"),
    JSON.stringify({
      mcpServers: { a: { command: "mcp-remote", args: ["https://a.example/mcp", "--header-file", "h.txt"] } },
    }),
  );
  const config = loadConfigFile(join(sub, "mcp-u2m-proxy.json"), env);
  assert.equal(config.path, join(sub, "mcp-u2m-proxy.json"));
  assert.deepEqual(config.servers[0]?.headers, { "x-a": "1" });
});
