// The group commit of the LevelDB plugin's key-value and snapshot stores (on the SPI's Batcher,
// test/unit/persistence/batcher.test.ts): concurrent changes share a write, a failed write
// rejects its own batch and keeps nothing of it, and a caller reads its own writes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { openDb, type Db } from '../../../src/persistence/plugins/leveldb/db.js';
import { LevelDbKeyValueStore } from '../../../src/persistence/plugins/leveldb/key-value-store.js';
import { LevelDbSnapshotStore } from '../../../src/persistence/plugins/leveldb/snapshot-store.js';
import { KeyValueStoreFailureError, RevisionConflictError } from '../../../src/persistence/spi/index.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

async function withDb(t: Test, run: (db: Db, directory: string) => Promise<void>): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'cs-leveldb-batcher-'));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  const db = await openDb(directory);
  try {
    await run(db, directory);
  } finally {
    await db.close();
  }
}

/** The database with its chained batches' writes counted, and failing while `failing` is set. */
function instrumented(db: Db) {
  const state = { writes: 0, failing: false };
  const batch = db.batch.bind(db) as () => ReturnType<Db['batch']> & { write(options?: object): Promise<void> };
  const wrapped = new Proxy(db, {
    get(target, prop) {
      if (prop !== 'batch') {
        // Bound to the database itself: its methods use private fields.
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      }
      return () => {
        const b = batch();
        const write = b.write.bind(b);
        b.write = async (options?: object) => {
          state.writes++;
          if (state.failing) {
            await b.close();
            throw new Error('injected write failure');
          }
          return write(options);
        };
        return b;
      };
    },
  });
  return { db: wrapped, state };
}

t.test('key-value store: 64 concurrent upserts share synced writes instead of one each', async (t) => {
  await withDb(t, async (raw) => {
    const { db, state } = instrumented(raw);
    const kv = new LevelDbKeyValueStore(db);
    const keys = Array.from({ length: 64 }, (_, i) => `k${i}`);
    t.same(await Promise.all(keys.map((k) => kv.upsert(k, { payload: bytes(k), manifest: 'm' }, 0))), keys.map(() => 1));
    t.equal(state.writes, 1, 'one write for the 64 upserts of one tick');
    t.same((await Promise.all(keys.map((k) => kv.get(k)))).map((v) => text(v?.payload)), keys);
    await kv.close();
  });
});

t.test('key-value store: a caller reads its own upsert and delete without awaiting them', async (t) => {
  await withDb(t, async (db) => {
    const kv = new LevelDbKeyValueStore(db);
    const upserted = kv.upsert('k', { payload: bytes('one'), manifest: 'm' });
    const read = await kv.get('k');
    t.equal(text(read?.payload), 'one');
    t.equal(await upserted, 1);
    const deleted = kv.delete('k', 1);
    t.equal(await kv.get('k'), undefined);
    await deleted;
    await kv.close();
  });
});

t.test('key-value store: a failed write rejects its batch and keeps nothing of it; later changes check against storage', async (t) => {
  await withDb(t, async (raw) => {
    const { db, state } = instrumented(raw);
    const kv = new LevelDbKeyValueStore(db);
    t.equal(await kv.upsert('a', { payload: bytes('a1'), manifest: 'm' }), 1);
    state.failing = true;
    const failed = await Promise.allSettled([kv.upsert('a', { payload: bytes('a2'), manifest: 'm' }, 1), kv.upsert('b', { payload: bytes('b1'), manifest: 'm' }, 0)]);
    t.ok(failed.every((f) => f.status === 'rejected' && f.reason instanceof KeyValueStoreFailureError), 'both changes of the batch fail as a storage failure');
    state.failing = false;
    t.same([text((await kv.get('a'))?.payload), await kv.get('b')], ['a1', undefined], 'storage holds what it held before');
    await t.rejects(kv.upsert('a', { payload: bytes('x'), manifest: 'm' }, 2), RevisionConflictError, 'the failed revision 2 was not counted');
    t.equal(await kv.upsert('a', { payload: bytes('a2'), manifest: 'm' }, 1), 2);
    t.equal(await kv.upsert('b', { payload: bytes('b1'), manifest: 'm' }, 0), 1);
    await kv.close();
  });
});

t.test('key-value store: revisions survive a reopen (the cache starts empty and reads storage)', async (t) => {
  await withDb(t, async (db) => {
    const kv = new LevelDbKeyValueStore(db);
    await kv.upsert('k', { payload: bytes('one'), manifest: 'm' });
    await kv.upsert('k', { payload: bytes('two'), manifest: 'm' });
    await kv.close();
    const again = new LevelDbKeyValueStore(db);
    await t.rejects(again.upsert('k', { payload: bytes('x'), manifest: 'm' }, 1), RevisionConflictError);
    t.equal(await again.upsert('k', { payload: bytes('three'), manifest: 'm' }, 2), 3);
    await again.close();
  });
});

t.test('snapshot store: saves queued during a write share the next; a delete keeps call order', async (t) => {
  await withDb(t, async (raw) => {
    const { db, state } = instrumented(raw);
    const store = new LevelDbSnapshotStore(db);
    const meta = (seqNr: number) => ({ persistenceId: 'p', seqNr, timestamp: seqNr, manifest: 'm' });
    await Promise.all([1, 2, 3, 4].map((s) => store.save(meta(s), bytes(`s${s}`))));
    t.equal(state.writes, 1, 'four saves of one tick: one write');
    const order = [store.save(meta(5), bytes('s5')), store.delete('p', { maxSeqNr: 5 }), store.save(meta(6), bytes('s6'))];
    await Promise.all(order);
    t.equal((await store.loadLatest('p'))?.metadata.seqNr, 6, 'the save after the delete stays');
    t.equal(await store.loadLatest('p', { maxSeqNr: 5 }), undefined, 'the save before the delete went with it');
    await store.close();
  });
});
