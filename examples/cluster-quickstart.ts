// Two members on this machine: membership, reliable messaging, a singleton and a graceful leave.
import { Cluster } from '@cloudstate/cluster';

const a = await Cluster.start({ preset: 'local' }); // no seeds: forms a new cluster
const b = await Cluster.start({ preset: 'local', seeds: [a.address] });
await b.joined;
const name = (id: string) => (id === a.self.id ? 'a' : 'b');
if (!a.upMembers().some((m) => m.id === b.self.id)) await new Promise((resolve) => a.once('member-up', resolve));
console.log('a sees:', a.members().map((m) => `${name(m.id)} ${m.state}`).sort().join(', '));

// Reliable messaging: ordered per pair of members, over one persistent connection.
const received = new Promise<void>((resolve) =>
  b.onMessage('greeting', (from, payload) => {
    console.log(`b got "${new TextDecoder().decode(payload)}" from ${name(from.id)}`);
    resolve();
  }),
);
await a.sendReliable(b.self.id, 'greeting', new TextEncoder().encode('hello'));
await received;

// A cluster singleton: one instance, on the oldest member; every member can ask it.
const counter = (self: Cluster, me: string) =>
  self.singleton<string, string>({
    name: 'counter',
    create: () => {
      let n = 0;
      return { receive: (msg) => `${msg} #${++n}, handled on ${me}` };
    },
  });
counter(a, 'a');
const fromB = counter(b, 'b');
console.log(await fromB.ask('ping'));

// A graceful leave: the singleton is handed over, and b sees a removed, not failed.
const removed = new Promise((resolve) => b.once('member-removed', resolve));
await a.leave();
await removed;
console.log(await fromB.ask('ping'));
await b.shutdown();
