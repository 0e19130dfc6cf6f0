import type { Logger } from "../../lib/logger.ts";

/**
 * The origin people and the authorization server reach the proxy at: `--public-url`, or (in a mode that trusts its
 * front) the X-Forwarded-Proto/-Host of the first identified request. Once known it stays: a later request naming
 * another host is logged and ignored, so no caller can move the redirect URI.
 */
export class PublicOrigin {
  private origin: string | undefined;
  private basePath: string;
  private readonly listeners = new Set<(origin: string) => void>();

  constructor(publicUrl?: string | undefined) {
    const url = publicUrl ? new URL(publicUrl) : undefined;
    this.origin = url?.origin;
    this.basePath = url ? url.pathname.replace(/\/+$/, "") : "";
  }

  /** The public base URL without a trailing slash (`https://host[/path]`), once known. */
  get baseUrl(): string | undefined {
    return this.origin === undefined ? undefined : `${this.origin}${this.basePath}`;
  }

  get host(): string | undefined {
    return this.origin === undefined ? undefined : new URL(this.origin).host;
  }

  learn(origin: string, logger: Logger): void {
    if (this.origin === undefined) {
      this.origin = origin;
      logger.info(`Public URL learnt from the front: ${origin} (redirect URI ${origin}/oauth/callback).`);
      for (const listener of this.listeners) listener(origin);
      return;
    }
    if (origin !== this.origin) logger.debug("ignored an X-Forwarded-Host other than the public URL", { origin });
  }

  /** Called once the origin is known (at once when it already is). */
  onKnown(listener: (origin: string) => void): void {
    if (this.origin !== undefined) listener(this.origin);
    else this.listeners.add(listener);
  }
}
