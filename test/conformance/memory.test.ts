import t from 'tap';
import { MemoryStorage, openMemoryStorage } from '../../src/persistence/plugins/memory/index.js';
import { runStorageConformance } from '../../src/persistence/testkit/index.js';

// One MemoryStorage behind every open, so the reopen cases see the data of earlier opens.
const storage = new MemoryStorage();
runStorageConformance(t, {
  name: 'memory',
  durable: true,
  open: () => openMemoryStorage({ storage }),
  openSecondClient: () => openMemoryStorage({ storage }),
});

// The memory journal keeps each event as one encoded record (no reference to the caller's
// buffers): a writer that reuses its buffer after the write does not change what is stored.
t.test('memory: a stored event does not change when the writer reuses its buffers', async (t) => {
  const plugin = await openMemoryStorage();
  t.teardown(() => plugin.close());
  const payload = Uint8Array.from([1, 2, 3]);
  const tags = ['t'];
  const [outcome] = await plugin.journal.writeBatch([{ persistenceId: 'reuse', events: [{ persistenceId: 'reuse', seqNr: 1, payload, manifest: 'm', writerId: 'w', timestamp: 5, tags }] }]);
  t.equal(outcome, undefined, 'written');
  payload.fill(9);
  tags[0] = 'changed';
  const replayed = [];
  for await (const e of plugin.journal.replay('reuse', 1, 10, 10)) replayed.push(e);
  t.same(replayed, [{ persistenceId: 'reuse', seqNr: 1, payload: Uint8Array.from([1, 2, 3]), manifest: 'm', writerId: 'w', timestamp: 5, tags: ['t'] }], 'replayed as written');
  const byTag = [];
  for await (const e of plugin.journal.currentEventsByTag!('t', 0, 10)) byTag.push(e.event.payload);
  t.same(byTag, [Uint8Array.from([1, 2, 3])], 'and by its tag as written');
});
