/**
 * Snapshot store and key-value store cases of the conformance kit.
 */
import assert from 'node:assert/strict';
import { RevisionConflictError } from '../spi/index.js';
import type { SnapshotMetadata } from '../spi/index.js';
import type { ConformanceCase, ConformanceTarget } from './conformance.js';
import { withPlugin } from './conformance.js';
import { decode, uniqueId } from './fixtures.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const meta = (persistenceId: string, seqNr: number, timestamp = 1000 * seqNr): SnapshotMetadata => ({
  persistenceId,
  seqNr,
  timestamp,
  manifest: 'test.State',
});

async function rejectsWithConflict(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof RevisionConflictError);
}

export const storeCases: ConformanceCase[] = [
  {
    name: 'snapshots: the latest matching snapshot is loaded, by seqNr and timestamp criteria',
    run: (target) =>
      withPlugin(target, async ({ snapshotStore }) => {
        const id = uniqueId('snap');
        assert.equal(await snapshotStore.loadLatest(id), undefined);
        for (const s of [10, 20, 30]) await snapshotStore.save(meta(id, s), bytes(`state@${s}`));
        await snapshotStore.save(meta(uniqueId('snap-other'), 40), bytes('other'));
        const latest = await snapshotStore.loadLatest(id);
        assert.deepEqual(latest?.metadata, meta(id, 30));
        assert.equal(decode(latest!.payload), 'state@30');
        assert.equal((await snapshotStore.loadLatest(id, { maxSeqNr: 25 }))?.metadata.seqNr, 20);
        assert.equal((await snapshotStore.loadLatest(id, { maxSeqNr: 20 }))?.metadata.seqNr, 20);
        assert.equal((await snapshotStore.loadLatest(id, { maxTimestamp: 15_000 }))?.metadata.seqNr, 10);
        assert.equal(await snapshotStore.loadLatest(id, { maxSeqNr: 5 }), undefined);
        assert.equal(await snapshotStore.loadLatest(id, { minSeqNr: 31 }), undefined);
        assert.equal((await snapshotStore.loadLatest(id, { minTimestamp: 10_000, maxTimestamp: 25_000 }))?.metadata.seqNr, 20);
      }),
  },
  {
    name: 'snapshots: saving the same seqNr replaces it, delete by criteria removes only matches',
    run: (target) =>
      withPlugin(target, async ({ snapshotStore }) => {
        const id = uniqueId('snap-del');
        for (const s of [1, 2, 3, 4]) await snapshotStore.save(meta(id, s), bytes(`v1@${s}`));
        await snapshotStore.save(meta(id, 4, 99_000), Uint8Array.from([0, 255, 0]));
        const replaced = await snapshotStore.loadLatest(id);
        assert.equal(replaced?.metadata.timestamp, 99_000);
        assert.deepEqual(Array.from(replaced!.payload), [0, 255, 0]);
        await snapshotStore.delete(id, { maxSeqNr: 4, minSeqNr: 4 });
        assert.equal((await snapshotStore.loadLatest(id))?.metadata.seqNr, 3);
        await snapshotStore.delete(id, { maxSeqNr: 2 });
        assert.equal((await snapshotStore.loadLatest(id))?.metadata.seqNr, 3);
        assert.equal(await snapshotStore.loadLatest(id, { maxSeqNr: 2 }), undefined);
        await snapshotStore.delete(id);
        assert.equal(await snapshotStore.loadLatest(id), undefined);
      }),
  },
  {
    name: 'key-value: upsert counts revisions, a stale revision conflicts and changes nothing',
    run: (target) =>
      withPlugin(target, async ({ keyValueStore: kv }) => {
        const key = uniqueId('kv');
        assert.equal(await kv.get(key), undefined);
        assert.equal(await kv.upsert(key, { payload: bytes('one'), manifest: 'm1' }, 0), 1);
        assert.equal(await kv.upsert(key, { payload: bytes('two'), manifest: 'm2' }), 2);
        const got = await kv.get(key);
        assert.equal(decode(got!.payload), 'two');
        assert.equal(got!.manifest, 'm2');
        assert.equal(got!.revision, 2);
        await rejectsWithConflict(kv.upsert(key, { payload: bytes('stale'), manifest: 'm' }, 1));
        await rejectsWithConflict(kv.upsert(key, { payload: bytes('fresh'), manifest: 'm' }, 0));
        assert.equal(decode((await kv.get(key))!.payload), 'two');
        assert.equal(await kv.upsert(key, { payload: bytes('three'), manifest: 'm3' }, 2), 3);
      }),
  },
  {
    name: 'key-value: delete removes the value, honours the expected revision, and keys do not mix',
    run: (target) =>
      withPlugin(target, async ({ keyValueStore: kv }) => {
        const key = uniqueId('kv-del');
        const neighbour = `${key}x`;
        await kv.upsert(key, { payload: bytes('a'), manifest: '' });
        await kv.upsert(neighbour, { payload: new Uint8Array(0), manifest: '' });
        await rejectsWithConflict(kv.delete(key, 7));
        assert.equal((await kv.get(key))?.revision, 1);
        await kv.delete(key, 1);
        assert.equal(await kv.get(key), undefined);
        assert.equal((await kv.get(neighbour))?.payload.byteLength, 0);
        assert.equal(await kv.upsert(key, { payload: bytes('again'), manifest: '' }, 0), 1);
        await kv.delete(neighbour);
        assert.equal(await kv.get(neighbour), undefined);
      }),
  },
  {
    name: 'key-value: concurrent upserts of many keys all land, each at its own revision',
    run: (target) =>
      withPlugin(target, async ({ keyValueStore: kv }) => {
        const prefix = uniqueId('kv-many');
        const keys = Array.from({ length: 64 }, (_, i) => `${prefix}-${i}`);
        const first = await Promise.all(keys.map((k) => kv.upsert(k, { payload: bytes(`${k}:1`), manifest: 'm' }, 0)));
        assert.deepEqual(first, keys.map(() => 1));
        const second = await Promise.all(keys.map((k) => kv.upsert(k, { payload: bytes(`${k}:2`), manifest: 'm' }, 1)));
        assert.deepEqual(second, keys.map(() => 2));
        const read = await Promise.all(keys.map((k) => kv.get(k)));
        assert.deepEqual(read.map((v) => `${decode(v!.payload)}@${v!.revision}`), keys.map((k) => `${k}:2@2`));
      }),
  },
  {
    name: 'key-value: of concurrent upserts of one key that expect the same revision, exactly one wins',
    run: (target) =>
      withPlugin(target, async ({ keyValueStore: kv }) => {
        const key = uniqueId('kv-race');
        await kv.upsert(key, { payload: bytes('base'), manifest: 'm' }, 0);
        const attempts = await Promise.allSettled(['a', 'b', 'c', 'd'].map((x) => kv.upsert(key, { payload: bytes(x), manifest: 'm' }, 1)));
        const won = attempts.flatMap((a, i) => (a.status === 'fulfilled' ? [i] : []));
        assert.equal(won.length, 1, 'one winner');
        assert.equal((attempts[won[0]!] as PromiseFulfilledResult<number>).value, 2);
        for (const a of attempts) if (a.status === 'rejected') assert.ok(a.reason instanceof RevisionConflictError, 'the others conflict');
        const stored = await kv.get(key);
        assert.equal(stored?.revision, 2);
        assert.equal(decode(stored!.payload), ['a', 'b', 'c', 'd'][won[0]!], "the winner's value is stored");
      }),
  },
  {
    // Two nodes, each with its own batches: a key in one node's batch and the same key in the
    // other's, beside other keys, as value entities meet during a hand-over.
    name: 'key-value: two clients of the same storage racing for one revision, in batches: exactly one wins (when the plugin allows a second client)',
    skip: (target: ConformanceTarget) => (target.openSecondClient ? undefined : 'the storage allows one client at a time'),
    run: async (target) => {
      const second = await target.openSecondClient!();
      try {
        await withPlugin(target, async ({ keyValueStore: kv }) => {
          const other = second.keyValueStore;
          for (let round = 0; round < 5; round++) {
            const key = uniqueId('kv-two-clients');
            await kv.upsert(key, { payload: bytes('base'), manifest: 'm' }, 0);
            const neighbours = (client: string) => Array.from({ length: 8 }, (_, i) => `${key}-${client}-${i}`);
            const [a, b] = await Promise.all([
              Promise.allSettled([kv.upsert(key, { payload: bytes('a'), manifest: 'm' }, 1), ...neighbours('a').map((k) => kv.upsert(k, { payload: bytes(k), manifest: 'm' }, 0))]),
              Promise.allSettled([other.upsert(key, { payload: bytes('b'), manifest: 'm' }, 1), ...neighbours('b').map((k) => other.upsert(k, { payload: bytes(k), manifest: 'm' }, 0))]),
            ]);
            const contested = [a[0]!, b[0]!];
            assert.equal(contested.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: one winner`);
            const lost = contested.find((r) => r.status === 'rejected') as PromiseRejectedResult;
            assert.ok(lost.reason instanceof RevisionConflictError, `got ${String(lost.reason)}`);
            assert.ok([...a.slice(1), ...b.slice(1)].every((r) => r.status === 'fulfilled'), 'the other keys of both batches were stored');
            const stored = await kv.get(key);
            assert.equal(stored?.revision, 2);
            assert.equal(decode(stored!.payload), contested[0]!.status === 'fulfilled' ? 'a' : 'b', "the winner's value is stored");
          }
        });
      } finally {
        await second.close();
      }
    },
  },
  {
    name: 'key-value: a conflict among concurrent changes fails only itself',
    run: (target) =>
      withPlugin(target, async ({ keyValueStore: kv }) => {
        const prefix = uniqueId('kv-mixed');
        await kv.upsert(`${prefix}-stale`, { payload: bytes('x'), manifest: 'm' }, 0);
        const [ok1, stale, ok2, gone] = await Promise.allSettled([
          kv.upsert(`${prefix}-1`, { payload: bytes('one'), manifest: 'm' }, 0),
          kv.upsert(`${prefix}-stale`, { payload: bytes('y'), manifest: 'm' }, 5),
          kv.upsert(`${prefix}-2`, { payload: bytes('two'), manifest: 'm' }),
          kv.delete(`${prefix}-stale`, 1),
        ]);
        assert.deepEqual([ok1.status, ok2.status, gone.status], ['fulfilled', 'fulfilled', 'fulfilled']);
        assert.ok(stale.status === 'rejected' && stale.reason instanceof RevisionConflictError);
        assert.equal(decode((await kv.get(`${prefix}-1`))!.payload), 'one');
        assert.equal(decode((await kv.get(`${prefix}-2`))!.payload), 'two');
        assert.equal(await kv.get(`${prefix}-stale`), undefined, 'the delete after the conflict went through');
      }),
  },
  {
    name: 'key-value and snapshots survive close and reopen',
    skip: (target) => (target.durable ? undefined : 'storage is not durable'),
    run: async (target) => {
      const key = uniqueId('kv-reopen');
      await withPlugin(target, async ({ keyValueStore, snapshotStore }) => {
        await keyValueStore.upsert(key, { payload: bytes('kept'), manifest: 'k' });
        await snapshotStore.save(meta(key, 5), bytes('snap'));
      });
      await withPlugin(target, async ({ keyValueStore, snapshotStore }) => {
        const v = await keyValueStore.get(key);
        assert.equal(decode(v!.payload), 'kept');
        assert.equal(v!.revision, 1);
        assert.equal(decode((await snapshotStore.loadLatest(key))!.payload), 'snap');
      });
    },
  },
];
