// Replicated data on two members: a counter and a set that every member can update locally and
// that converge, with a write that waits for every replica.
import { Cluster } from '@cloudstate/cluster';
import { GCounter, ORSet, Replicator } from '@cloudstate/cluster/crdt';

const a = await Cluster.start({ preset: 'local' });
const b = await Cluster.start({ preset: 'local', seeds: [a.address] });
await b.joined;
if (!a.upMembers().some((m) => m.id === b.self.id)) await new Promise((resolve) => a.once('member-up', resolve));
const onA = await Replicator.start({ cluster: a });
const onB = await Replicator.start({ cluster: b });

// Each member increments its own entry; no coordination, no lost increment.
await onA.update('visits', GCounter.empty, (c) => c.increment(a.self.id, 2));
await onB.update('visits', GCounter.empty, (c) => c.increment(b.self.id, 3), { consistency: 'all' });

// Wait until b sees a's increments too (deltas travel in the background).
const seen = new Promise<void>((resolve) => {
  const check = () => void onB.get<GCounter>('visits').then((c) => c?.value === 5 && resolve());
  onB.subscribe('visits', check);
  check();
});
await seen;
console.log('visits on b:', (await onB.get<GCounter>('visits'))!.value);

// An add-wins set: a concurrent add and remove of the same element keeps it.
await onA.update('online', ORSet.empty, (s) => s.add(a.self.id, 'ann').add(a.self.id, 'bob'), { consistency: 'all' });
await onB.update('online', ORSet.empty, (s) => s.remove('bob'), { consistency: 'all' });
console.log('online on a:', [...(await onA.get<ORSet>('online', { consistency: 'all' }))!.elements].join(', '));

for (const r of [onA, onB]) await r.close();
await b.leave();
await a.leave();
