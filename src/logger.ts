/**
 * One-line, levelled logging to stderr.
 *
 * @module
 */

/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
/** A log level name. */
export type LogLevel = typeof LOG_LEVELS[number];

/** A logger that writes one line per event. */
export interface Logger {
  level: LogLevel;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Parses a level name. @throws {Error} naming the bad value */
export function parseLogLevel(value: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new Error(
    `Invalid log level ${JSON.stringify(value)}: expected one of ${LOG_LEVELS.join(", ")}`,
  );
}

function format(fields: Record<string, unknown> | undefined): string {
  if (!fields) return "";
  let s = "";
  for (const [k, v] of Object.entries(fields)) {
    const text = typeof v === "string" ? v : JSON.stringify(v);
    s += ` ${k}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
  }
  return s;
}

/** A logger writing `TIME LEVEL message key=value ...` lines to `write` (stderr by default). */
export function createLogger(
  level: LogLevel = "info",
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  const logger: Logger = {
    level,
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
  function emit(at: LogLevel, msg: string, fields?: Record<string, unknown>) {
    if (LOG_LEVELS.indexOf(at) < LOG_LEVELS.indexOf(logger.level)) return;
    write(`${new Date().toISOString()} ${at.toUpperCase()} ${msg}${format(fields)}`);
  }
  return logger;
}

/** A logger that discards everything. */
export const silentLogger: Logger = createLogger("silent");
