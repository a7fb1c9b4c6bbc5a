/**
 * Opening the LevelDB database and mapping its errors. One database per node directory holds
 * every store of the plugin; LevelDB's lock file makes it one process per directory, which
 * is what lets the journal check sequence numbers and write in one step without a race.
 */
import { Level } from 'level';
import { CloudstateError, describeError } from '../../../core/index.js';
import { JournalFailureError } from '../../spi/index.js';

export type Db = Level<string, Uint8Array>;

export const LEVELDB_LOCKED = 'ERR_LEVELDB_LOCKED';

/** Opens (creating if needed) the database in `directory`. */
export async function openDb(directory: string): Promise<Db> {
  const db: Db = new Level<string, Uint8Array>(directory, { keyEncoding: 'utf8', valueEncoding: 'view' });
  try {
    await db.open();
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'LEVEL_LOCKED') {
      throw new CloudstateError(LEVELDB_LOCKED, `LevelDB directory ${directory} is in use by another process (one node per directory)`, { cause: err });
    }
    throw new JournalFailureError(`cannot open LevelDB in ${directory}: ${describeError((err as { cause?: unknown }).cause ?? err)}`, { cause: err });
  }
  return db;
}

/** Reads many keys; a thin wrapper so callers get `undefined` for absent keys. */
export function getMany(db: Db, keys: string[]): Promise<(Uint8Array | undefined)[]> {
  return db.getMany(keys);
}

export function f64(n: number): Uint8Array {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(n);
  return b;
}

export function readF64(b: Uint8Array | undefined): number {
  return b === undefined ? 0 : Buffer.from(b.buffer, b.byteOffset, b.byteLength).readDoubleBE(0);
}

/** Streams [key, value] pairs of a range in chunks (nextv is ~3x faster than for-await). */
export async function* scan(
  db: Db,
  range: { gt?: string; gte?: string; lt?: string; lte?: string; reverse?: boolean; limit?: number },
  chunk = 1000,
): AsyncGenerator<[string, Uint8Array]> {
  const it = db.iterator({ ...range, limit: range.limit ?? -1 });
  try {
    for (;;) {
      const entries = await it.nextv(chunk);
      if (entries.length === 0) return;
      for (const entry of entries) yield entry as [string, Uint8Array];
    }
  } finally {
    await it.close();
  }
}
