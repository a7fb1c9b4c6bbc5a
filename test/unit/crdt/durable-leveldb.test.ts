// The replicator's durable store over LevelDB, as the proxy uses it: the LevelDB storage
// plugin's entry store (`StoragePlugin.entryStore`), in the same database as the journal. A node
// restarted on the same directory (a new process, so a new member id) gets its keys back,
// deletes included, and keeps counting on top of what it stored; namespaces do not mix.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Cluster, InMemoryNetwork } from '../../../src/cluster/index.js';
import { ManualScheduler, SeededRandom } from '../../../src/core/index.js';
import { GCounter, ORSet, Replicator } from '../../../src/crdt/index.js';
import { openStorage } from '../../../src/persistence/index.js';

t.test('a restarted node keeps its CRDTs in LevelDB', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'crdt-durable-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const scheduler = new ManualScheduler();
  const network = new InMemoryNetwork({ scheduler, random: new SeededRandom(1) });
  const start = async (incarnation: number) => {
    const address = `127.0.9.${incarnation}:7946`;
    const cluster = await Cluster.start({ id: `solo.${incarnation}`, seeds: [], preset: 'local', transport: network.transport(address), scheduler, clock: scheduler, random: new SeededRandom(incarnation) });
    const storage = await openStorage({ kind: 'leveldb', directory: dir });
    const replicator = await Replicator.start({ cluster, scheduler, clock: scheduler, random: new SeededRandom(incarnation), durableStore: storage.entryStore!('crdt') });
    return { cluster, replicator, storage };
  };

  const first = await start(1);
  const id1 = first.replicator.selfId;
  await first.replicator.update('count', GCounter.empty, (c) => c.increment(id1, 41));
  await first.replicator.update('set', ORSet.empty, (s) => s.add(id1, 'a').add(id1, 'b'));
  await first.replicator.update('gone', GCounter.empty, (c) => c.increment(id1, 1));
  await first.replicator.delete('gone');
  await first.replicator.close();
  await first.cluster.shutdown();
  const other = first.storage.entryStore!('other');
  await other.write([['count', new Uint8Array([1, 2, 3])]]);
  t.same([...(await other.load())], [['count', new Uint8Array([1, 2, 3])]], 'another namespace holds its own entries');
  t.equal([...(await first.storage.entryStore!('crdt').load())].length, 3, 'and the replicator\'s three keys are in its own');
  await first.storage.close();

  const second = await start(2);
  t.teardown(async () => {
    await second.replicator.close();
    await second.cluster.shutdown();
    await second.storage.close();
  });
  const id2 = second.replicator.selfId;
  t.not(id2, id1, 'the restarted node is a new member');
  t.equal(second.replicator.getLocal<GCounter>('count')?.value, 41, 'the counter came back');
  t.same([...second.replicator.getLocal<ORSet>('set')!.elements].sort(), ['a', 'b'], 'the set came back');
  t.ok(second.replicator.isDeleted('gone'), 'a deleted key stays deleted across the restart');
  const next = await second.replicator.update('count', GCounter.empty, (c) => c.increment(id2, 1));
  t.equal(next.value, 42, 'and the new member counts on top of what was stored');
});
