import type { FetchLike } from "../../auth/authorized-fetch.ts";
import { describeError } from "../../lib/errors.ts";
import { type Logger, silentLogger } from "../../lib/logger.ts";
import { STORE_VERSION, type TokenStore } from "../../store/token-store.ts";
import type { Era, EraProbeResult } from "./era-probe.ts";

/** `--protocol`: probe (auto), or take the user's word for the upstream's era. */
export type ProtocolChoice = "auto" | "legacy" | "modern";

export interface EraVerdictsOptions {
  url: URL;
  /** The authorized fetch (the probe carries the token). */
  fetch: FetchLike;
  /** Where verdicts outlive the process (the `protocol` record beside the upstream's discovery); none in memory only. */
  store?: { store: TokenStore; key: string } | undefined;
  choice?: ProtocolChoice | undefined;
  logger?: Logger | undefined;
  /** A stored verdict older than this is probed again (default a day: a server may upgrade, and a stale legacy
   * verdict would otherwise hold forever). */
  maxAgeMs?: number | undefined;
  now?: (() => number) | undefined;
}

export interface EraVerdict extends EraProbeResult {
  /** Where it came from: the user's `--protocol`, the store, or a probe just now. */
  source: "configured" | "stored" | "probed";
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The era verdict for one upstream: probed once (single flight), remembered in memory and in the store, dated, and
 * forgotten when a request later fails in a way that says the verdict is wrong (the server changed era), so the
 * next connection probes again (versioning §Backward Compatibility: "re-probe if it later fails").
 */
export class EraVerdicts {
  private current: Promise<EraVerdict> | undefined;
  /** The verdict once one is settled, for callers that must decide without waiting (the HTTP face's routing). */
  private settled: EraVerdict | undefined;
  /** A probe of a stored verdict under way (confirm), one at a time. */
  private confirming: Promise<EraVerdict> | undefined;
  private readonly logger: Logger;
  private readonly now: () => number;

  constructor(private readonly options: EraVerdictsOptions) {
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
  }

  /** The verdict, probing when none is known (or the stored one is old). Rejects when the probe proved nothing. */
  get(): Promise<EraVerdict> {
    const choice = this.options.choice ?? "auto";
    if (choice !== "auto") {
      return Promise.resolve({ era: choice, supportedVersions: [], source: "configured" });
    }
    if (!this.current) {
      const current = this.find().then(
        (verdict) => {
          if (this.current === current) this.settled = verdict;
          return verdict;
        },
        (error: unknown) => {
          if (this.current === current) this.current = undefined;
          throw error;
        },
      );
      this.current = current;
    }
    return this.current;
  }

  /** The era known right now (configured, or settled by a probe or the store), without waiting or probing. */
  get known(): Era | undefined {
    const choice = this.options.choice ?? "auto";
    return choice !== "auto" ? choice : this.settled?.era;
  }

  /**
   * Whether the settled verdict was read from the store and not probed by this process: the server may have changed
   * era since it was stored (an upgrade while the proxy was down), so a caller whose first request would be routed
   * by it can {@link confirm} it first.
   */
  get fromStore(): boolean {
    return this.settled?.source === "stored";
  }

  /**
   * The verdict, probed now if the settled one came from the store (once per process: the probed one replaces it,
   * in memory and in the store); otherwise as {@link get}. When that probe proves nothing, the stored verdict stays.
   */
  confirm(): Promise<EraVerdict> {
    if (!this.fromStore) return this.get();
    this.confirming ??= this.probe()
      .then((verdict) => {
        this.current = Promise.resolve(verdict);
        this.settled = verdict;
        return verdict;
      })
      .finally(() => {
        this.confirming = undefined;
      });
    return this.confirming;
  }

  /** The verdict if one is known (configured, in memory or stored), without probing. */
  async peekStored(): Promise<EraVerdict | undefined> {
    const choice = this.options.choice ?? "auto";
    if (choice !== "auto") return this.get();
    if (this.current) return this.current.catch(() => undefined);
    const stored = await this.readStored();
    if (stored && !this.current) {
      this.current = Promise.resolve(stored);
      this.settled = stored;
    }
    return stored;
  }

  /** The server no longer answers as the verdict said: probe again next time. */
  async forget(): Promise<void> {
    this.current = undefined;
    this.settled = undefined;
    const stored = this.options.store;
    if (stored) await stored.store.remove(stored.key, "protocol").catch(() => {});
  }

  private async find(): Promise<EraVerdict> {
    const stored = await this.readStored();
    if (stored) return stored;
    return this.probe();
  }

  private async probe(): Promise<EraVerdict> {
    // Loaded on first need: the probe speaks through the SDK, which the HTTP face's pass-through never loads.
    const { probeEra } = await import("./era-probe.ts");
    const probed = await probeEra(this.options.url, this.options.fetch);
    this.logger.debug(`upstream ${this.options.url.href} speaks the ${probed.era} MCP wire`, {
      versions: probed.supportedVersions.join(" "),
    });
    await this.save(probed.era, probed.supportedVersions);
    return { ...probed, source: "probed" };
  }

  private async readStored(): Promise<EraVerdict | undefined> {
    const stored = this.options.store;
    if (!stored) return undefined;
    const record = await stored.store.read(stored.key, "protocol").catch(() => undefined);
    if (!record || record.server_url !== this.options.url.href) return undefined;
    if (this.now() - record.checked_at > (this.options.maxAgeMs ?? DAY_MS)) return undefined;
    return { era: record.era, supportedVersions: record.supported_versions, source: "stored" };
  }

  private async save(era: Era, supportedVersions: string[]): Promise<void> {
    const stored = this.options.store;
    if (!stored) return;
    try {
      await stored.store.write(stored.key, "protocol", {
        version: STORE_VERSION,
        server_url: this.options.url.href,
        era,
        supported_versions: supportedVersions,
        checked_at: this.now(),
      });
    } catch (error) {
      // A verdict not kept costs one probe at the next start; it must not fail the connection.
      this.logger.debug(`could not store the upstream's protocol era: ${describeError(error)}`);
    }
  }
}
