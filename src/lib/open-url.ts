import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { ProxyError } from "./errors.ts";
import { isLoopbackHost } from "./loopback.ts";

/**
 * Checks a URL we are about to show or open in a browser: only https, or http for loopback hosts.
 * Rejects javascript:, data:, file: and the like (MCP security best practices, "OAuth Authorization URL
 * Validation"; CVE-2025-6514 was a crafted authorization_endpoint executed through a shell).
 */
export function assertSafeBrowserUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ProxyError("UNSAFE_URL", "The authorization server gave an authorization URL that is not a valid URL.", {
      hint: "Check the server's OAuth metadata (authorization_endpoint).",
    });
  }
  const ok = url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
  if (!ok || url.username || url.password) {
    throw new ProxyError(
      "UNSAFE_URL",
      `Refusing to open ${url.protocol} URL ${url.origin}: only https (or http on loopback) is allowed.`,
      {
        hint: "The authorization server's metadata looks wrong or hostile; do not sign in through it.",
      },
    );
  }
  return url;
}

export interface OpenUrlOptions {
  /** The BROWSER environment value, if any: a command (split on spaces, never run through a shell). */
  browserCommand?: string | undefined;
  platform?: NodeJS.Platform;
}

/**
 * Opens a validated URL in the user's browser without a shell: `$BROWSER <url>` when BROWSER is set, else the
 * platform opener. Resolves once the opener was started; rejects with the reason when it could not be.
 */
export async function openUrl(raw: string, options: OpenUrlOptions = {}): Promise<void> {
  const url = assertSafeBrowserUrl(raw).href;
  const [command, ...args] = openerCommand(options);
  if (!command) throw new ProxyError("INTERNAL", "No browser command to run.");
  await new Promise<void>((resolve, reject) => {
    const child = spawn(command, [...args, url], { stdio: "ignore", detached: true, shell: false });
    child.once("error", (error) =>
      reject(
        new ProxyError("INTERNAL", `Could not start the browser (${command}): ${error.message}`, { cause: error }),
      ),
    );
    child.once("spawn", () => {
      child.unref();
      resolve();
    });
  });
}

/**
 * Whether `openUrl` can show a page on this machine: BROWSER names a command, or macOS and Windows (their openers
 * always exist), or elsewhere a graphical session (DISPLAY, WAYLAND_DISPLAY) and xdg-open on PATH. Over SSH or in a
 * container there is usually neither, and a sign-in should not wait for a browser that never opens.
 */
export function browserCanBeOpened(
  options: OpenUrlOptions & { display?: string | undefined; path?: string | undefined } = {},
): boolean {
  if (options.browserCommand?.trim()) return true;
  const platform = options.platform ?? process.platform;
  if (platform === "darwin" || platform === "win32") return true;
  if (!options.display) return false;
  return (options.path ?? "").split(delimiter).some((dir) => dir !== "" && isExecutable(join(dir, "xdg-open")));
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function openerCommand({ browserCommand, platform = process.platform }: OpenUrlOptions): string[] {
  const fromEnv = browserCommand?.trim();
  if (fromEnv) return fromEnv.split(/\s+/);
  if (platform === "darwin") return ["open"];
  // rundll32 opens the URL with the default handler without going through cmd.exe's parsing.
  if (platform === "win32") return ["rundll32", "url.dll,FileProtocolHandler"];
  return ["xdg-open"];
}
