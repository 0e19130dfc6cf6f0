import type { Client, PoolConfig } from "pg";

export interface PostgresListenerOptions {
  config: PoolConfig;
  channel: string;
  /** A NOTIFY payload on the channel. */
  onPayload: (payload: string) => void;
  /** LISTEN is (re-)established: notifications may have been missed meanwhile, so anything may have changed. */
  onListening: () => void;
}

/**
 * The Postgres store's dedicated LISTEN connection (a pooled one would be handed to queries), started on first
 * need and reconnected with back-off (100 ms doubling, at most 2 s) until closed.
 */
export class PostgresListener {
  readonly #options: PostgresListenerOptions;
  #client: Client | undefined;
  #listening = false;
  #closed = false;

  constructor(options: PostgresListenerOptions) {
    this.#options = options;
  }

  /** Whether LISTEN is established (tests wait for it before counting on notifications). */
  get listening(): boolean {
    return this.#listening;
  }

  /** Connects and listens unless it does already (or is closed). */
  start(attempt = 0): void {
    if (this.#client || this.#closed) return;
    void import("pg").then(({ default: pg }) => {
      if (this.#client || this.#closed) return;
      const { config, channel, onPayload, onListening } = this.#options;
      const client = new pg.Client(config);
      this.#client = client;
      let retried = false;
      const retry = () => {
        if (retried) return;
        retried = true;
        this.#listening = false;
        if (this.#client === client) this.#client = undefined;
        client.end().catch(() => {});
        if (this.#closed) return;
        setTimeout(() => this.start(attempt + 1), Math.min(100 * 2 ** attempt, 2000)).unref();
      };
      client.on("error", retry);
      client.on("end", retry);
      client.on("notification", (message) => {
        if (message.channel === channel && message.payload) onPayload(message.payload);
      });
      client
        .connect()
        .then(() => client.query(`LISTEN "${channel}"`))
        .then(() => {
          attempt = 0;
          this.#listening = true;
          onListening();
        })
        .catch(retry);
    });
  }

  /** Ends the connection; no reconnection after this. */
  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }
}
