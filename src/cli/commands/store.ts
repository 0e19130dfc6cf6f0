import { createBackendStore } from "../../app/context.ts";
import { ProxyError } from "../../lib/errors.ts";
import { createLogger } from "../../lib/logger.ts";
import type { StoreKey } from "../../store/record-cipher.ts";
import { censusOf, type RewriteResult, rewriteStore, type StoreCensus } from "../../store/store-rekey.ts";
import type { CliArgs } from "../args.ts";
import { EXIT } from "../exit-codes.ts";

type Output = (text: string) => void;

/**
 * `store status|encrypt|rekey|decrypt`: how the token store's records are held, and explicit migrations between
 * plaintext and keys (src/store/store-rekey.ts). Each migration is resumable: run it again after an interruption.
 */
export async function storeCommand(args: CliArgs, out: Output, err: Output): Promise<number> {
  const logger = createLogger({ level: args.runtime.debug ? "debug" : "warn" });
  const store = createBackendStore(args.runtime, (message) => logger.warn(message));
  const key = args.runtime.storeKey;
  const where = store.location;
  const warn = (message: string) => err(`mcp-u2m-proxy: warning: ${message}`);
  switch (args.store.action) {
    case "status":
      return status(await censusOf(store), where, key, args.json, out);
    case "encrypt": {
      const given = requireKey(key, "encrypt");
      const result = await rewriteStore(store, { from: [given], to: given, onWarning: warn });
      out(
        `Encrypted ${count(result.rewritten)} in ${where} with store key ${given.id}${already(result)}. Keep the key safe: without it the records cannot be read.`,
      );
      return finish(result, err);
    }
    case "rekey": {
      const next = args.store.newKey;
      if (!next) {
        throw new ProxyError("USAGE", "store rekey needs the new key.", {
          hint: "Pass --new-store-key-file FILE (or set MCP_PROXY_NEW_STORE_KEY); the current key comes from --store-key-file or MCP_PROXY_STORE_KEY. Generate one with: openssl rand -base64 32",
        });
      }
      if (key?.equals(next)) {
        throw new ProxyError("USAGE", `The new store key is the current one (${next.id}).`, {
          hint: "Generate a new key with: openssl rand -base64 32",
        });
      }
      const from = key ? [key] : [];
      const result = await rewriteStore(store, {
        from,
        to: next,
        onWarning: warn,
        onStart: (census, toDo) =>
          out(
            `Rekeying ${toDo} of ${count(census.total)} in ${where} to store key ${next.id}${key ? ` from ${key.id}` : ""}. If this stops midway, every record is readable with ${key ? `the old key ${key.id} or ` : ""}the new key ${next.id}: run the same command again to finish.`,
          ),
      });
      out(
        `Rekeyed ${count(result.rewritten)} to store key ${next.id}${already(result)}. From now on give the new key (--store-key-file or MCP_PROXY_STORE_KEY)${key ? `; the old key ${key.id} opens nothing in this store any more` : ""}.`,
      );
      return finish(result, err);
    }
    case "decrypt": {
      const given = requireKey(key, "decrypt");
      const result = await rewriteStore(store, { from: [given], to: undefined, onWarning: warn });
      out(
        `Decrypted ${count(result.rewritten)} in ${where}${already(result)}; they are protected by file permissions only now.`,
      );
      return finish(result, err);
    }
  }
}

function status(census: StoreCensus, where: string, key: StoreKey | undefined, json: boolean, out: Output): number {
  const unreadable = Object.entries(census.byKeyId).filter(([kid]) => kid !== key?.id);
  if (json) {
    out(JSON.stringify({ location: where, keyId: key?.id ?? null, ...census }, null, 2));
    return EXIT.ok;
  }
  if (census.total === 0) {
    out(`No records in ${where}.${key ? ` New records will be sealed with store key ${key.id}.` : ""}`);
    return EXIT.ok;
  }
  const lines = [`${where}: ${count(census.total)}.`];
  for (const [kid, n] of Object.entries(census.byKeyId)) {
    lines.push(`  ${n} sealed with store key ${kid}${kid === key?.id ? " (the given key)" : ""}`);
  }
  if (census.plaintext > 0) lines.push(`  ${census.plaintext} plaintext`);
  if (unreadable.length > 0) {
    lines.push(
      `Records sealed with ${unreadable.map(([kid]) => kid).join(", ")} cannot be read with ${key ? `the given key ${key.id}` : "no key given"}; after an interrupted rekey, run it again with the same keys.`,
    );
  } else if (census.plaintext > 0 && key) {
    lines.push('Plaintext records are sealed on their next write, or all at once with "mcp-u2m-proxy store encrypt".');
  } else if (census.plaintext > 0) {
    lines.push(
      "Give a store key (MCP_PROXY_STORE_KEY, --store-key-file, or --keychain for one kept in the OS keychain) to encrypt the store at rest.",
    );
  }
  out(lines.join("\n"));
  return EXIT.ok;
}

function requireKey(key: StoreKey | undefined, action: string): StoreKey {
  if (key) return key;
  throw new ProxyError("USAGE", `store ${action} needs the store key.`, {
    hint: "Set MCP_PROXY_STORE_KEY or pass --store-key-file FILE (generate a key with: openssl rand -base64 32), or pass --keychain to keep one in the OS keychain.",
  });
}

function finish(result: RewriteResult, err: Output): number {
  if (result.skipped === 0) return EXIT.ok;
  err(
    `mcp-u2m-proxy: ${count(result.skipped)} could not be opened and ${result.skipped === 1 ? "was" : "were"} left as ${result.skipped === 1 ? "it was" : "they were"} (see the warnings above).`,
  );
  return EXIT.store;
}

function count(n: number): string {
  return `${n} record${n === 1 ? "" : "s"}`;
}

function already(result: RewriteResult): string {
  return result.already > 0 ? ` (${result.already} already ${result.already === 1 ? "was" : "were"})` : "";
}
