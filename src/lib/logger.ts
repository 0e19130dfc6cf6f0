import { closeSync, constants, fchmodSync, openSync, writeSync } from "node:fs";
import { ProxyError } from "./errors.ts";
import { redact, redactText } from "./redact.ts";

/**
 * The one logger. Writes to stderr (stdout belongs to MCP messages in stdio mode) and, with --debug, also to a
 * 0600 debug file. Every message and field goes through redaction first, at every level.
 */
export type LogLevel = "silent" | "error" | "warn" | "info" | "debug";

export interface Logger {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  readonly level: LogLevel;
}

const RANK: Record<LogLevel, number> = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };

export interface LoggerOptions {
  level?: LogLevel;
  /** Where human-readable lines go; default stderr. */
  write?: (line: string) => void;
  /** Also append every line (at debug level) to this file, created 0600. */
  debugFile?: string;
  prefix?: string;
  /**
   * "json": one JSON object per line (`time`, `level`, `msg`, then the fields) for log collectors; default "text".
   * Redacted the same way.
   */
  format?: "text" | "json";
}

/** Keys a JSON line always has; fields of the same names are left out rather than overwrite them. */
const JSON_LINE_KEYS = new Set(["time", "level", "msg"]);

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const prefix = options.prefix ?? "mcp-u2m-proxy";
  const json = options.format === "json";
  let debugFd: number | undefined;
  if (options.debugFile) {
    // Never through a link planted at the log's path (the token directory itself is checked by the store).
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0);
    try {
      debugFd = openSync(options.debugFile, flags, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ELOOP") throw error;
      throw new ProxyError(
        "STORE_UNSAFE",
        `Refusing to write the debug log: ${options.debugFile} is a symbolic link.`,
        {
          hint: "Remove the link (someone else may have planted it), then run again.",
          cause: error,
        },
      );
    }
    fchmodSync(debugFd, 0o600);
    process.once("exit", () => {
      if (debugFd !== undefined) closeSync(debugFd);
    });
  }

  const emit = (at: Exclude<LogLevel, "silent">, message: string, fields?: Record<string, unknown>) => {
    const wanted = RANK[at] <= RANK[level];
    if (!wanted && debugFd === undefined) return;
    const rest = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(redact(fields))}` : "";
    const text = `${redactText(message)}${rest}`;
    if (wanted && json) write(`${jsonLine(at, message, fields)}\n`);
    else if (wanted) write(`${prefix}: ${at === "info" ? "" : `${at}: `}${text}\n`);
    if (debugFd !== undefined) writeSync(debugFd, `${new Date().toISOString()} ${at} ${text}\n`);
  };

  return {
    level,
    error: (m, f) => emit("error", m, f),
    warn: (m, f) => emit("warn", m, f),
    info: (m, f) => emit("info", m, f),
    debug: (m, f) => emit("debug", m, f),
  };
}

function jsonLine(level: string, message: string, fields: Record<string, unknown> | undefined): string {
  const line: Record<string, unknown> = { time: new Date().toISOString(), level, msg: redactText(message) };
  const masked = fields ? (redact(fields) as Record<string, unknown>) : {};
  for (const [key, value] of Object.entries(masked)) if (!JSON_LINE_KEYS.has(key)) line[key] = value;
  return JSON.stringify(line);
}

/** A logger that drops everything; the default for library use. */
export const silentLogger: Logger = createLogger({ level: "silent", write: () => {} });
