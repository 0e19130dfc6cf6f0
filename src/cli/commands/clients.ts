import { launchCommand } from "../../app/launch-command.ts";
import { defaultAuthDir } from "../../config/defaults.ts";
import { clientConfigs, shellQuote } from "../../server/client-config.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { configFor, configuredServers, type ResolvedServer, resolveServer } from "../resolve-server.ts";
import { launchOptions } from "../suggest-command.ts";

/**
 * `clients [<url or name>]`: every MCP host's configuration snippet for the server, as the status page shows them:
 * HTTP hosts point at `serve` on --port, hosts that launch a command get the stdio face with the command that
 * runs this proxy here (with the token directory and config in use, so it shares `serve`'s sign-in).
 */
export async function clientsCommand(args: CliArgs, out: (text: string) => void): Promise<number> {
  const config = configFor(args);
  const all = !args.url && !args.serverName && config !== undefined && config.servers.length > 0;
  const servers: ResolvedServer[] =
    all && config ? configuredServers(config) : [resolveServer(args, "clients", config)];
  const launch = launchCommand({
    authDir: args.runtime.authDir,
    defaultAuthDir: defaultAuthDir(),
    configPath: config?.path,
    port: args.runtime.port,
    options: launchOptions(args.argv ?? []),
  });
  const base = `http://127.0.0.1:${args.runtime.port}`;
  const sections: string[] = [];
  for (const server of servers) {
    // A config's servers are served at /servers/<name> by `serve` without a URL (and at the root when alone).
    const proxyBaseUrl = all && server.name ? `${base}/servers/${server.name}` : base;
    const configs = clientConfigs({
      upstreamUrl: server.upstream.url,
      proxyBaseUrl,
      apiKeyRequired: args.serve.apiKey !== undefined,
      launch,
      stdioTarget: server.name ?? server.upstream.url,
    });
    const title = server.name ? `${server.name} (${server.upstream.url})` : server.upstream.url;
    sections.push(
      [
        `# ${title}`,
        `HTTP hosts need the proxy running: ${[launch.command, ...launch.args, "serve", ...(all ? [] : [server.upstream.url])].map(shellQuote).join(" ")}`,
        ...configs.map((entry) => `\n## ${entry.title} — ${entry.where}\n${entry.text}`),
      ].join("\n"),
    );
  }
  out(sections.join("\n\n"));
  return EXIT.ok;
}
