/**
 * Maps `pg` errors to what a caller can act on, once, at the plugin boundary, and runs pooled
 * queries with that mapping. Three kinds matter: a lost or refused connection (the message says
 * plainly that the database is unreachable; calls work again once it is back, because the pool
 * opens new connections), a unique-key violation (another writer stored that key first), and a
 * data error (this value cannot be stored: a rejection of one write, not storage trouble).
 */
import type pg from 'pg';
import { describeError } from '../../../core/index.js';

/** SQLSTATE classes and socket codes that mean "the server is not there". */
const UNREACHABLE = /^(08|57P0[1-3])/;
const SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const DRIVER_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|Client was closed|Cannot use a pool after calling end/i;

/** The SQLSTATE (or socket code) of a driver error, if it has one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when the error means the server could not be reached or the connection was lost. */
export function isUnreachable(err: unknown): boolean {
  const code = sqlState(err);
  if (code !== undefined && (SOCKET.has(code) || UNREACHABLE.test(code))) return true;
  return DRIVER_MESSAGES.test(describeError(err));
}

/** SQLSTATE of a unique-key violation: another writer stored that (persistence id, seqNr). */
export const UNIQUE_VIOLATION = '23505';

/**
 * True for errors about the values of one statement rather than about storage: class 22 (data
 * exception, e.g. 22021 a NUL byte in text, 22003 a number out of range) and 54000 (a value
 * over a program limit). Retrying the same values cannot succeed; other values would.
 */
export function isDataError(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && (code.startsWith('22') || code === '54000');
}

/** A message for a failed call: unreachable, or what the server said. */
export function failureMessage(what: string, err: unknown): string {
  return isUnreachable(err)
    ? `PostgreSQL is unreachable during ${what}: ${describeError(err)}`
    : `PostgreSQL ${what} failed: ${describeError(err)}`;
}

/** A statement the driver prepares once per connection under its name (the name must be unique per text). */
export interface NamedStatement {
  readonly name: string;
  readonly text: string;
}

/** A named statement on `table`: the table is part of the name, so stores of two schemas sharing a pool do not clash. */
export function namedStatement(table: string, name: string, text: string): NamedStatement {
  return { name: `${table}-${name}`, text };
}

/**
 * Runs one pooled query and maps any error with `fail` (which receives the message from
 * `failureMessage` and the driver error as cause). Resolves to the driver's result. A
 * `NamedStatement` is parsed and planned once per connection instead of on every call.
 */
export async function runQuery<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  fail: (message: string, cause: unknown) => Error,
  what: string,
  sql: string | NamedStatement,
  params: unknown[],
): Promise<pg.QueryResult<R>> {
  try {
    return await (typeof sql === 'string' ? pool.query<R>(sql, params) : pool.query<R>({ name: sql.name, text: sql.text, values: params }));
  } catch (err) {
    throw fail(failureMessage(what, err), err);
  }
}
