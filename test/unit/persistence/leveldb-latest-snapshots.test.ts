// The LevelDB snapshot store's cache of each id's latest snapshot (latest-snapshots.ts): what it
// answers must always be what storage holds, through saves (newer and older), deletes, reads
// with criteria, reads racing writes, and a reopened directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LatestSnapshots } from '../../../src/persistence/plugins/leveldb/latest-snapshots.js';
import { openLevelDbStorage } from '../../../src/persistence/plugins/leveldb/index.js';
import type { SelectedSnapshot } from '../../../src/persistence/index.js';

const snap = (persistenceId: string, seqNr: number, text = `s${seqNr}`): SelectedSnapshot => ({
  metadata: { persistenceId, seqNr, timestamp: 1000 + seqNr, manifest: 'm' },
  payload: new TextEncoder().encode(text),
});
const seqOf = (s: SelectedSnapshot | null | undefined) => (s === undefined ? 'unknown' : s === null ? 'none' : s.metadata.seqNr);

t.test('LatestSnapshots: what is known, and when it is replaced or forgotten', async (t) => {
  const c = new LatestSnapshots();
  t.equal(seqOf(c.get('a')), 'unknown', 'nothing known at first');
  c.saved(snap('a', 5));
  t.equal(seqOf(c.get('a')), 'unknown', 'a save of an unknown id does not make it known (storage may hold a newer one)');
  c.found('a', c.version(), undefined);
  t.equal(seqOf(c.get('a')), 'none', 'a read that found nothing: known to have none');
  c.saved(snap('a', 5));
  t.equal(seqOf(c.get('a')), 5, 'then a save is the latest');
  c.saved(snap('a', 3));
  t.equal(seqOf(c.get('a')), 5, 'an older save does not replace it');
  c.saved(snap('a', 10));
  t.equal(seqOf(c.get('a')), 10, 'a newer one does');
  c.deleted('a');
  t.equal(seqOf(c.get('a')), 'unknown', 'a delete forgets the id');
});

t.test('LatestSnapshots: a read that raced a write does not cache what it found', async (t) => {
  const c = new LatestSnapshots();
  const before = c.version();
  c.saved(snap('a', 7)); // lands while the read is in flight
  c.found('a', before, snap('a', 5));
  t.equal(seqOf(c.get('a')), 'unknown', 'the stale read is not kept');
  const other = c.version();
  c.saved(snap('b', 1));
  c.found('a', other, snap('a', 7));
  t.equal(seqOf(c.get('a')), 7, 'a write to another id does not matter');
});

t.test('LatestSnapshots: bounded by entries (least recently used first) and payload size', async (t) => {
  const c = new LatestSnapshots({ maxEntries: 2, maxPayloadBytes: 4 });
  for (const id of ['a', 'b']) c.found(id, c.version(), snap(id, 1, 'x'));
  c.get('a'); // a is now the most recently used
  c.found('c', c.version(), snap('c', 1, 'x'));
  t.equal(seqOf(c.get('b')), 'unknown', 'the least recently used went');
  t.equal(seqOf(c.get('a')), 1);
  t.equal(seqOf(c.get('c')), 1);
  c.found('d', c.version(), snap('d', 1, 'too large'));
  t.equal(seqOf(c.get('d')), 'unknown', 'a payload over the limit is not kept');
});

t.test('LatestSnapshots: keeps a copy, not a view of the caller\'s (possibly much larger) buffer', async (t) => {
  const c = new LatestSnapshots();
  const big = new Uint8Array(1024).fill(7);
  const view = big.subarray(10, 14);
  c.found('a', c.version(), { metadata: snap('a', 1).metadata, payload: view });
  const kept = c.get('a')!;
  t.equal(kept.payload.byteLength, 4);
  t.equal(kept.payload.buffer.byteLength, 4, 'its own buffer');
  big.fill(0);
  t.same([...kept.payload], [7, 7, 7, 7], 'unaffected by later writes to the original');
});

t.test('LatestSnapshots: after its write log is emptied, reads begun before do not cache', async (t) => {
  const c = new LatestSnapshots({ maxEntries: 1 });
  const before = c.version();
  for (let i = 0; i < 5; i++) c.saved(snap(`id-${i}`, 1)); // more ids written than it tracks
  c.found('id-0', before, snap('id-0', 0));
  t.equal(seqOf(c.get('id-0')), 'unknown');
});

t.test('LevelDB snapshot store: answers equal storage through saves, deletes, criteria and a reopen', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'cs-leveldb-latest-'));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  let storage = await openLevelDbStorage({ directory });
  let store = storage.snapshotStore;
  const save = (seqNr: number) => store.save(snap('cart', seqNr).metadata, snap('cart', seqNr).payload);
  const latest = async (criteria?: Parameters<typeof store.loadLatest>[1]) => (await store.loadLatest('cart', criteria))?.metadata.seqNr ?? 'none';

  t.equal(await latest(), 'none', 'no snapshot');
  await save(5);
  t.equal(await latest(), 5, 'a save after "none" is found');
  await save(10);
  t.equal(await latest(), 10);
  await save(7);
  t.equal(await latest(), 10, 'an older save is not the latest');
  t.equal(await latest({ maxSeqNr: 8 }), 7, 'criteria the latest does not meet read storage');
  t.equal(new TextDecoder().decode((await store.loadLatest('cart'))!.payload), 's10', 'the payload too');
  await store.delete('cart', { minSeqNr: 9 });
  t.equal(await latest(), 7, 'after a delete, the latest left in storage');
  await store.delete('cart');
  t.equal(await latest(), 'none', 'after deleting all');

  // A load racing a save: whatever it answers, the next load sees the save.
  await save(20);
  const racing = store.loadLatest('cart');
  await save(25);
  t.ok([20, 25].includes((await racing)?.metadata.seqNr ?? -1), 'the racing load answers one of the two');
  t.equal(await latest(), 25, 'the next load sees the newer save');

  await storage.close();
  storage = await openLevelDbStorage({ directory });
  store = storage.snapshotStore;
  t.equal(await latest(), 25, 'a reopened directory reads what was stored');
  await storage.close();
});
