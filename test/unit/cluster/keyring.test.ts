// The keyring (seal/open, rotation) and the secure transport over the in-memory network, on
// virtual time: same key talks on every channel, another key is dropped and counted, keys
// rotate without a lost message.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ManualScheduler, SeededRandom, hasCode } from '../../../src/core/index.js';
import { Keyring, SEAL_OVERHEAD } from '../../../src/cluster/keyring.js';
import type { Stream } from '../../../src/cluster/transport.js';
import { presets } from '../../../src/cluster/config.js';
import { SwimNode } from '../../../src/cluster/swim.js';
import { InMemoryNetwork } from '../../../src/cluster/transports/in-memory.js';
import { secureTransport } from '../../../src/cluster/transports/secure.js';

const [k1, k2, k3] = [randomBytes(32), randomBytes(32), randomBytes(32)];

t.test('seal and open: round trip, fresh nonces, tampering and wrong keys detected', async (t) => {
  const ring = new Keyring([k1.toString('base64')]);
  const plain = Buffer.from('hello cluster');
  const a = ring.seal(plain);
  const b = ring.seal(plain);
  t.equal(a.length, plain.length + SEAL_OVERHEAD);
  t.notSame(Buffer.from(a), Buffer.from(b), 'a fresh nonce per message');
  t.same(Buffer.from(ring.open(a)!), plain);
  t.same(Buffer.from(ring.open(ring.seal(new Uint8Array(0)))!), Buffer.alloc(0), 'empty messages too');
  const table: [string, (x: Buffer) => Uint8Array][] = [
    ['a flipped ciphertext bit', (x) => ((x[20]! ^= 1), x)],
    ['a flipped tag bit', (x) => ((x[x.length - 1]! ^= 1), x)],
    ['a flipped nonce bit', (x) => ((x[3]! ^= 1), x)],
    ['another version byte', (x) => ((x[0] = 2), x)],
    ['truncated', (x) => x.subarray(0, SEAL_OVERHEAD - 1)],
    ['nothing', () => new Uint8Array(0)],
  ];
  for (const [name, spoil] of table) t.equal(ring.open(spoil(Buffer.from(a))), undefined, name);
  t.equal(new Keyring([k2]).open(a), undefined, 'another key cannot open it');
});

t.test('rotation: install, use, remove; the primary cannot be removed; bad keys refused', async (t) => {
  const old = new Keyring([k1]);
  const ring = new Keyring([k1]);
  const sealedOld = old.seal(Buffer.from('x'));
  ring.install(k2);
  t.same(Buffer.from(ring.primary), k1, 'install does not change the primary');
  t.ok(ring.open(new Keyring([k2]).seal(Buffer.from('x'))), 'but opens with the new key');
  ring.use(k2);
  t.same(Buffer.from(ring.primary), k2);
  t.ok(old.open(ring.seal(Buffer.from('x'))) === undefined, 'seals with the new primary');
  t.ok(ring.open(sealedOld), 'still opens the old key');
  t.ok(hasCode(catchErr(() => ring.remove(k2)), 'ERR_CLUSTER_KEY_PRIMARY'), 'the primary cannot be removed');
  ring.remove(k1);
  t.equal(ring.open(sealedOld), undefined, 'the removed key no longer opens');
  t.equal(ring.installed.length, 1);
  t.ok(hasCode(catchErr(() => ring.use(k3)), 'ERR_CLUSTER_KEY_UNKNOWN'), 'use needs an installed key');
  t.ok(hasCode(catchErr(() => new Keyring([randomBytes(16)])), 'ERR_CLUSTER_KEY_INVALID'), '16-byte keys are refused');
  t.ok(hasCode(catchErr(() => new Keyring([])), 'ERR_CLUSTER_KEY_INVALID'), 'an empty keyring is refused');
});

function catchErr(fn: () => void): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

function network() {
  const scheduler = new ManualScheduler();
  const net = new InMemoryNetwork({ scheduler, random: new SeededRandom(3), latencyMs: 2 });
  const node = (address: string, ring: Keyring) => {
    const transport = secureTransport(net.transport(address), ring);
    const packets: string[] = [];
    const frames: string[] = [];
    const streams: Stream[] = [];
    transport.listen(
      (_, d) => packets.push(Buffer.from(d).toString()),
      async (_, d) => Buffer.from(`re: ${Buffer.from(d).toString()}`),
      (s) => {
        streams.push(s);
        s.onFrame((f) => frames.push(Buffer.from(f).toString()));
      },
    );
    return { transport, packets, frames, streams };
  };
  return { scheduler, net, node };
}

t.test('secure transport over the in-memory network: packets, exchanges and streams', async (t) => {
  const { scheduler, node } = network();
  const a = node('a:1', new Keyring([k1]));
  const b = node('b:1', new Keyring([k1]));
  const c = node('c:1', new Keyring([k3]));

  a.transport.sendPacket('b:1', Buffer.from('ping'));
  c.transport.sendPacket('b:1', Buffer.from('intruder'));
  const answer = a.transport.exchange('b:1', Buffer.from('state'), 1000);
  const refused = c.transport.exchange('b:1', Buffer.from('state'), 1000).catch((e: unknown) => e);
  const fromC = c.transport.exchange('a:1', Buffer.from('x'), 1000).catch((e: unknown) => e);
  await scheduler.advanceAsync(20);
  t.same(b.packets, ['ping'], 'the packet with the right key is handed up, the other dropped');
  t.equal(Buffer.from(await answer).toString(), 're: state', 'exchange answered and opened');
  t.ok(await refused instanceof Error, 'an exchange with another key fails');
  t.ok(hasCode(await fromC, 'ERR_CLUSTER_UNAUTHENTIC'), 'an answer sealed with another key is rejected by the caller');

  const opening = a.transport.openStream('b:1', 1000);
  await scheduler.advanceAsync(20);
  const s = await opening;
  s.write(Buffer.from('one'));
  s.write(Buffer.from('two'));
  const openingC = c.transport.openStream('b:1', 1000);
  await scheduler.advanceAsync(20);
  const sc = await openingC;
  let scClosed = false;
  sc.onClose(() => (scClosed = true));
  sc.write(Buffer.from('forged'));
  await scheduler.advanceAsync(20);
  t.same(b.frames, ['one', 'two'], 'stream frames opened in order; the forged one never handed up');
  t.ok(scClosed, 'a stream frame that fails to open closes that stream');
  t.equal(b.transport.stats.rejected, 3, 'packet, exchange and stream frame counted at b');
  t.equal(a.transport.stats.rejected, 1, 'and the exchange request c sent to a');
});

t.test('rotation over the in-memory network without a lost frame', async (t) => {
  const { scheduler, node } = network();
  const [ra, rb] = [new Keyring([k1]), new Keyring([k1])];
  const a = node('a:1', ra);
  const b = node('b:1', rb);
  const opening = a.transport.openStream('b:1', 1000);
  await scheduler.advanceAsync(20);
  const s = await opening;
  const sent: string[] = [];
  const steps: [string, () => void][] = [
    ['start', () => undefined],
    ['install everywhere', () => (ra.install(k2), rb.install(k2))],
    ['use at a', () => ra.use(k2)],
    ['use at b', () => rb.use(k2)],
    ['remove everywhere', () => (ra.remove(k1), rb.remove(k1))],
  ];
  for (const [name, step] of steps) {
    step();
    for (let i = 0; i < 3; i++) {
      const m = `${name} ${i}`;
      sent.push(m);
      s.write(Buffer.from(m));
      a.transport.sendPacket('b:1', Buffer.from(m));
    }
    await scheduler.advanceAsync(20);
  }
  t.same(b.frames, sent, 'every stream frame arrived');
  t.same([...b.packets].sort(), [...sent].sort(), 'every packet arrived (packets may reorder)');
  t.equal(b.transport.stats.rejected, 0);
});

t.test('SWIM over sealed transports: members with the key converge, one with another key stays out', async (t) => {
  const { scheduler, net } = network();
  const random = new SeededRandom(5);
  const nodes = ['x', 'y', 'z', 'intruder'].map((name) => {
    const address = `${name}:1`;
    const transport = secureTransport(net.transport(address), new Keyring([name === 'intruder' ? k3 : k1]));
    const node = new SwimNode({ id: name, transport, config: presets.local, clock: scheduler, scheduler: net.scheduler(address), random: random.fork() });
    node.start();
    return { node, transport };
  });
  const [x, y, z, intruder] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
  const joins = [y, z, intruder].map((n) => n.node.join(['x:1']).then(() => 'joined', (e: unknown) => e));
  await scheduler.advanceAsync(3000, { microtaskTurns: 8 });
  const outcomes = await Promise.all(joins);
  t.same(outcomes.slice(0, 2), ['joined', 'joined'], 'members with the key join');
  t.ok(outcomes[2] instanceof Error, 'the intruder cannot join');
  const alive = (n: SwimNode) => n.members().filter((m) => m.status === 'alive').map((m) => m.id).sort();
  for (const n of [x, y, z]) t.same(alive(n.node), ['x', 'y', 'z'], `${n.node.id} sees exactly the keyed members`);
  t.ok(x.transport.stats.rejected > 0, `the intruder's traffic was rejected and counted (${x.transport.stats.rejected})`);
  for (const n of nodes) n.node.stop();
});
