// The replicator's durable store over LevelDB: a node restarted on the same directory (a new
// process, so a new member id) gets its keys back, deletes included, and keeps counting on top
// of what it stored. The adapter is here because src/crdt may not import a driver; it belongs
// with the LevelDB plugin (see the CRDT report), which owns `level` imports in src/.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import t from 'tap';
import { Cluster, InMemoryNetwork } from '../../../src/cluster/index.js';
import { ManualScheduler, SeededRandom } from '../../../src/core/index.js';
import { GCounter, ORSet, Replicator } from '../../../src/crdt/index.js';
import type { DurableStore } from '../../../src/crdt/index.js';

/** A `DurableStore` on a LevelDB database (keys under a prefix, values as bytes). */
async function levelDurableStore(directory: string, prefix = 'crdt!'): Promise<DurableStore> {
  const db = new Level<string, Uint8Array>(directory, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  return {
    async load() {
      const out: [string, Uint8Array][] = [];
      for await (const [k, v] of db.iterator({ gte: prefix, lt: `${prefix}\xff` })) out.push([k.slice(prefix.length), v]);
      return out;
    },
    async write(entries) {
      const batch = db.batch();
      for (const [k, v] of entries) batch.put(prefix + k, v);
      await batch.write();
    },
    close: () => db.close(),
  };
}

t.test('a restarted node keeps its CRDTs in LevelDB', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'crdt-durable-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const scheduler = new ManualScheduler();
  const network = new InMemoryNetwork({ scheduler, random: new SeededRandom(1) });
  const start = async (incarnation: number) => {
    const address = `127.0.9.${incarnation}:7946`;
    const cluster = await Cluster.start({ id: `solo.${incarnation}`, seeds: [], preset: 'local', transport: network.transport(address), scheduler, clock: scheduler, random: new SeededRandom(incarnation) });
    const replicator = await Replicator.start({ cluster, scheduler, clock: scheduler, random: new SeededRandom(incarnation), durableStore: await levelDurableStore(dir) });
    return { cluster, replicator };
  };

  const first = await start(1);
  const id1 = first.replicator.selfId;
  await first.replicator.update('count', GCounter.empty, (c) => c.increment(id1, 41));
  await first.replicator.update('set', ORSet.empty, (s) => s.add(id1, 'a').add(id1, 'b'));
  await first.replicator.update('gone', GCounter.empty, (c) => c.increment(id1, 1));
  await first.replicator.delete('gone');
  await first.replicator.close();
  await first.cluster.shutdown();

  const second = await start(2);
  t.teardown(async () => {
    await second.replicator.close();
    await second.cluster.shutdown();
  });
  const id2 = second.replicator.selfId;
  t.not(id2, id1, 'the restarted node is a new member');
  t.equal(second.replicator.getLocal<GCounter>('count')?.value, 41, 'the counter came back');
  t.same([...second.replicator.getLocal<ORSet>('set')!.elements].sort(), ['a', 'b'], 'the set came back');
  t.ok(second.replicator.isDeleted('gone'), 'a deleted key stays deleted across the restart');
  const next = await second.replicator.update('count', GCounter.empty, (c) => c.increment(id2, 1));
  t.equal(next.value, 42, 'and the new member counts on top of what was stored');
});
