/**
 * Maps `pg` errors to what a caller can act on, once, at the plugin boundary. A lost or
 * refused connection says plainly that the database is unreachable; the calls that follow
 * work again once it is back, because the pool opens new connections.
 */
import { describeError } from '../../../core/index.js';

/** SQLSTATE classes and socket codes that mean "the server is not there". */
const UNREACHABLE = /^(08|57P0[1-3])/;
const SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

export function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  if (code && (SOCKET.has(code) || UNREACHABLE.test(code))) return true;
  const message = describeError(err);
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended/i.test(message);
}

/** SQLSTATE of a unique-key violation: another writer stored that (persistence id, seqNr). */
export const UNIQUE_VIOLATION = '23505';

export function sqlState(err: unknown): string | undefined {
  return (err as { code?: string } | undefined)?.code;
}

/** A message for a failed call: unreachable, or what the server said. */
export function failureMessage(what: string, err: unknown): string {
  return isUnreachable(err)
    ? `PostgreSQL is unreachable during ${what}: ${describeError(err)}`
    : `PostgreSQL ${what} failed: ${describeError(err)}`;
}
