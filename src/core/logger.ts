/**
 * Logging, through pino. Components take a `Logger` in their options and log structured
 * fields (`{ persistenceId, seqNr }`), not interpolated strings. The default logger writes
 * JSON to stderr at `info` (or `LOG_LEVEL`); tests use `silentLogger`.
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export interface LoggerOptions {
  /** Logger name, shown as `name` in each line. */
  name?: string;
  /** pino level; defaults to `LOG_LEVEL` or `info`. */
  level?: string;
}

/** A logger that writes JSON lines to stderr. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    { name: options.name ?? 'cloudstate', level: options.level ?? process.env.LOG_LEVEL ?? 'info' },
    pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that discards everything. */
export const silentLogger: Logger = pino({ level: 'silent' });
