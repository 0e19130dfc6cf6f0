// The set-up every `serve --identity databricks-apps` test shares: the real test AS, a real MCP server behind it,
// the built bin (`serve --identity databricks-apps`, a child process on a loopback port named by
// DATABRICKS_APP_PORT) over a fresh auth dir, and the test front playing the Apps proxy for the given users. With
// the helpers each of those tests used: an SDK v1 client as a user, the user's scripted browser for a sign-in, the
// `whoami` tool.
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { TestAuthServer } from "../../fixtures/auth-server.ts";
import { completeLoginInBrowser, type HeadlessLoginResult } from "../../fixtures/headless-login.ts";
import type { TestMcpServer } from "../../fixtures/mcp-server.ts";
import { freePort } from "../../fixtures/ports.ts";
import { type AuthUpstream, startAuthUpstream } from "./auth-upstream.ts";
import { type FrontUser, type IdentityFront, startIdentityFront } from "./identity-front.ts";
import { type ServeChild, startServeChild } from "./serve-child.ts";

export interface AppsDeployment {
  readonly as: TestAuthServer;
  readonly mcp: TestMcpServer;
  readonly front: IdentityFront;
  readonly serve: ServeChild;
  /** The auth dir serve keeps its store in. */
  readonly dir: string;
  /** What serve wrote to stdout and stderr so far. */
  output(): string;
  /** The headers `user`'s browser and clients send through the front (its session cookie). */
  asUser(user: FrontUser): Record<string, string>;
  /** A connected SDK v1 client of `user` on the front's `/mcp` (closed by close()); rejects as connect() does. */
  connect(
    user: FrontUser,
    options?: { declareUrlElicitation?: boolean },
  ): Promise<{ client: Client; transport: StreamableHTTPClientTransport }>;
  /** Follows a sign-in URL in `browserOf`'s browser (the front knows them by their cookie), logging in as `login`. */
  login(url: string, browserOf: FrontUser, loginName?: string): Promise<HeadlessLoginResult>;
  /** The -32050 sign-in URL a not-signed-in user's initialize gets (checked: it names the AS, in message and data). */
  signInUrlFor(user: FrontUser): Promise<string>;
  /** Signs `user` in as themselves through the -32050 error's URL; the callback must answer 200. */
  signIn(user: FrontUser): Promise<void>;
  close(): Promise<void>;
}

/** The `whoami` tool's subject: who the upstream thinks is calling. */
export async function whoami(client: Client): Promise<string | undefined> {
  const result = (await client.callTool({ name: "whoami", arguments: {} })) as { content: { text: string }[] };
  return (JSON.parse(result.content[0]?.text ?? "{}") as { sub?: string }).sub;
}

export async function startAppsDeployment(options: {
  users: readonly FrontUser[];
  /** More `serve` arguments (e.g. `--admin alice@example.test`). */
  serveArgs?: readonly string[];
  /** The auth dir's name prefix in the temp dir. */
  dirPrefix?: string;
  /** The upstream's transport (default streamable-stateful). */
  transport?: "streamable-stateful" | "streamable-stateless" | "sse";
}): Promise<AppsDeployment> {
  const clients: Client[] = [];
  const parts: Partial<{ upstream: AuthUpstream; front: IdentityFront; serve: ServeChild }> = {};
  const close = async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    await parts.serve?.stop();
    await parts.front?.close();
    await parts.upstream?.close();
  };
  try {
    parts.upstream = await startAuthUpstream({
      dirPrefix: options.dirPrefix ?? "identity-apps-",
      transport: options.transport,
    });
    const { mcp, dir } = parts.upstream;
    const port = await freePort();
    // --host stays loopback here (the front is on this machine); on Apps it defaults to 0.0.0.0, without a key.
    parts.serve = await startServeChild(
      [
        mcp.url,
        "--identity",
        "databricks-apps",
        "--host",
        "127.0.0.1",
        "--auth-dir",
        dir,
        "--no-browser",
        ...(options.serveArgs ?? []),
      ],
      { DATABRICKS_APP_PORT: String(port) },
    );
    parts.front = await startIdentityFront(`http://127.0.0.1:${port}`, options.users);
  } catch (error) {
    await close();
    throw error;
  }
  const { upstream, front, serve } = parts as Required<typeof parts>;
  const { as, mcp, dir: authDir } = upstream;
  const asUser = (user: FrontUser) => ({ cookie: `front_user=${user.login}` });

  const connect: AppsDeployment["connect"] = async (user, connectOptions = {}) => {
    const client = new Client(
      { name: `identity-test-${user.login}`, version: "1.0.0" },
      { capabilities: connectOptions.declareUrlElicitation ? { elicitation: { url: {} } } : {} },
    );
    const transport = new StreamableHTTPClientTransport(new URL(`${front.url}/mcp`), {
      requestInit: { headers: asUser(user) },
    });
    await client.connect(transport);
    clients.push(client);
    return { client, transport };
  };

  const login: AppsDeployment["login"] = (url, browserOf, loginName = browserOf.login) =>
    completeLoginInBrowser(url, {
      login: loginName,
      headersFor: (target) => (target.port === String(front.port) ? asUser(browserOf) : undefined),
      isCallback: (target) => target.port === String(front.port) && target.pathname === "/oauth/callback",
    });

  const signInUrlFor: AppsDeployment["signInUrlFor"] = async (user) => {
    const error = await connect(user).then(
      () => assert.fail(`${user.login} is not signed in yet, initialize must fail`),
      (failure: unknown) => failure as { code?: number; message?: string; data?: { signInUrl?: string } },
    );
    assert.equal(error.code, -32050, String(error.message));
    const url = error.data?.signInUrl ?? "";
    assert.ok(url.startsWith(`${as.issuer}/`), `data.signInUrl names the AS: ${url}`);
    assert.ok(error.message?.includes(url), "the message carries the URL too");
    return url;
  };

  return {
    as,
    mcp,
    front,
    serve,
    dir: authDir,
    output: () => serve.output(),
    asUser,
    connect,
    login,
    signInUrlFor,
    signIn: async (user) => {
      assert.equal((await login(await signInUrlFor(user), user)).callbackStatus, 200, `${user.login}'s callback`);
    },
    close,
  };
}
