// Streams over the in-memory network, and the Messenger on top of them, on virtual time: frames
// keep their order despite jitter, a paused node's mail is held, killing or cutting a link
// breaks streams on both ends, and the messenger batches, back-pressures and reconnects.
import t from 'tap';
import { ManualScheduler, SeededRandom, hasCode } from '../../../src/core/index.js';
import { encodeHello } from '../../../src/cluster/messaging-codec.js';
import { Messenger } from '../../../src/cluster/messaging.js';
import type { Stream, Transport } from '../../../src/cluster/transport.js';
import { InMemoryNetwork } from '../../../src/cluster/transports/in-memory.js';

function setup(options: { hwm?: number } = {}) {
  const scheduler = new ManualScheduler();
  const network = new InMemoryNetwork({ scheduler, random: new SeededRandom(7), latencyMs: 5, streamHighWaterMarkBytes: options.hwm });
  const accepted: Stream[] = [];
  const node = (address: string) => {
    const transport = network.transport(address);
    transport.listen(() => undefined, async () => new Uint8Array(), (s) => accepted.push(s));
    return transport;
  };
  return { scheduler, network, accepted, node };
}

const frame = (i: number) => Uint8Array.of(i & 0xff, (i >> 8) & 0xff);
const index = (f: Uint8Array) => f[0]! | (f[1]! << 8);

t.test('frames arrive whole and in order despite jitter; both directions work', async (t) => {
  const { scheduler, accepted, node } = setup();
  const a = node('a:1');
  node('b:1');
  const opening = a.openStream('b:1', 1000);
  await scheduler.advanceAsync(20);
  const s = await opening;
  t.equal(accepted.length, 1, 'b accepted the stream');
  t.equal(accepted[0]!.remote, 'a:1', 'the accepted end names the opener');
  for (let i = 0; i < 500; i++) s.write(frame(i));
  const got: number[] = [];
  accepted[0]!.onFrame((f) => got.push(index(f))); // registered after writes: nothing is lost
  const back: number[] = [];
  s.onFrame((f) => back.push(index(f)));
  accepted[0]!.write(frame(42));
  await scheduler.advanceAsync(50);
  t.same(got, Array.from({ length: 500 }, (_, i) => i), 'in order, each once');
  t.same(back, [42], 'the accepting end can answer');
});

t.test('a paused node holds frames until resumed; close is graceful', async (t) => {
  const { scheduler, network, accepted, node } = setup();
  const a = node('a:1');
  node('b:1');
  const opening = a.openStream('b:1', 1000);
  await scheduler.advanceAsync(20);
  const s = await opening;
  const got: number[] = [];
  accepted[0]!.onFrame((f) => got.push(index(f)));
  let closedWith: Error | undefined | 'open' = 'open';
  accepted[0]!.onClose((err) => (closedWith = err));
  network.pause('b:1');
  for (let i = 0; i < 10; i++) s.write(frame(i));
  s.close();
  await scheduler.advanceAsync(100);
  t.same(got, [], 'nothing delivered while paused');
  t.equal(closedWith, 'open', 'not closed while paused either');
  network.resume('b:1');
  t.same(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'held frames delivered in order on resume');
  t.equal(closedWith, undefined, 'then the graceful close, without an error');
  t.notOk(s.write(frame(1)), 'writing to a closed stream returns false');
});

t.test('kill and partition break streams on both ends with an error; a cut link makes openStream time out', async (t) => {
  const { scheduler, network, accepted, node } = setup();
  const a = node('a:1');
  node('b:1');
  node('c:1');
  const toB = a.openStream('b:1', 1000);
  const toC = a.openStream('c:1', 1000);
  await scheduler.advanceAsync(20);
  const [sb, sc] = [await toB, await toC];
  const errors: (Error | undefined)[] = [];
  for (const s of [sb, sc, ...accepted]) s.onClose((err) => errors.push(err));
  network.kill('b:1');
  t.equal(errors.length, 2, 'killing b closed both ends of a–b');
  t.ok(errors.every((e) => hasCode(e, 'ERR_CLUSTER_CONNECTION_CLOSED')), 'with an error');
  network.partition(['a:1'], ['c:1']);
  t.equal(errors.length, 4, 'the partition closed both ends of a–c');
  const blocked = a.openStream('c:1', 500).catch((err: unknown) => err);
  await scheduler.advanceAsync(499);
  const dead = a.openStream('b:1', 500).catch((err: unknown) => err);
  await scheduler.advanceAsync(20);
  t.ok(hasCode(await dead, 'ERR_CLUSTER_UNREACHABLE'), 'a dead node refuses after a round trip');
  t.ok(hasCode(await blocked, 'ERR_CLUSTER_TIMEOUT'), 'through a cut link, the timeout answers');
});

t.test('write reports the high-water mark and drain follows delivery', async (t) => {
  const { scheduler, network, node } = setup({ hwm: 1000 });
  const a = node('a:1');
  node('b:1');
  const opening = a.openStream('b:1', 1000);
  await scheduler.advanceAsync(20);
  const s = await opening;
  network.pause('b:1');
  t.ok(s.write(new Uint8Array(600)), 'under the mark');
  t.notOk(s.write(new Uint8Array(600)), 'over the mark: wait for drain');
  let drained = 0;
  s.onDrain(() => drained++);
  await scheduler.advanceAsync(100);
  t.equal(drained, 0, 'no drain while the receiver holds its mail');
  network.resume('b:1');
  await scheduler.advanceAsync(20);
  t.equal(drained, 1, 'drain once the receiver took the frames');
});

/** Two messengers on the in-memory network. */
function messengers(options: { maxQueuedBytesPerPeer?: number } = {}) {
  const scheduler = new ManualScheduler();
  const network = new InMemoryNetwork({ scheduler, random: new SeededRandom(11), latencyMs: 2, streamHighWaterMarkBytes: 4096 });
  const make = (address: string, id: string) => {
    const transport: Transport = network.transport(address);
    const m = new Messenger({ transport, selfId: id, clock: scheduler, scheduler: network.scheduler(address), ...options });
    transport.listen(() => undefined, async () => new Uint8Array(), m.onStream);
    return m;
  };
  return { scheduler, network, a: make('a:1', 'A'), b: make('b:1', 'B') };
}
const B = { id: 'B', address: 'b:1' };
const seq = (i: number) => Uint8Array.of(i >> 24, i >> 16, i >> 8, i);
const seqOf = (p: Uint8Array) => ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;

t.test('messenger: a paused receiver back-pressures send; resume delivers everything in order', async (t) => {
  const { scheduler, network, a, b } = messengers({ maxQueuedBytesPerPeer: 16 * 1024 });
  const got: number[] = [];
  const senders = new Set<string>();
  b.on('seq', (from, p) => {
    senders.add(from.id);
    got.push(p.length === 4 ? seqOf(p) : p[0]!);
  });
  await a.send(B, 'seq', seq(0));
  await scheduler.advanceAsync(10);
  t.same(got, [0], 'one message alone goes at once');
  network.pause('b:1');
  let resolved = 0;
  const sends: Promise<void>[] = [];
  for (let i = 1; i <= 2000; i++) sends.push(a.send(B, 'seq', new Uint8Array(100).fill(i & 0xff)).then(() => void resolved++));
  await scheduler.advanceAsync(200);
  t.ok(resolved < 2000, `sends stop resolving at the bound (${resolved} of 2000 resolved)`);
  t.ok(a.queuedBytes('B') <= 16 * 1024, `queued bytes stay within the bound (${a.queuedBytes('B')})`);
  network.resume('b:1');
  await scheduler.advanceAsync(500);
  await Promise.all(sends);
  t.same(got, Array.from({ length: 2001 }, (_, i) => i & 0xff), 'everything arrives after resume, in order');
  t.same([...senders], ['A'], 'the handler sees the sender');
  t.ok(a.stats.batchesOut < a.stats.sent, `batched (${a.stats.batchesOut} frames for ${a.stats.sent} messages)`);
});

t.test('messenger: reconnects after a partition heals and sends what was not written, in order', async (t) => {
  const { scheduler, network, a, b } = messengers();
  const got: number[] = [];
  b.on('seq', (_, p) => got.push(seqOf(p)));
  for (let i = 0; i < 5; i++) await a.send(B, 'seq', seq(i));
  await scheduler.advanceAsync(20);
  network.partition(['a:1'], ['b:1']);
  for (let i = 5; i < 10; i++) await a.send(B, 'seq', seq(i));
  await scheduler.advanceAsync(3000);
  network.heal();
  await scheduler.advanceAsync(10_000);
  t.same(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'nothing lost, nothing reordered');
  t.equal(a.stats.reconnects, 1, 'one reconnect');
});

t.test('messenger: forget rejects waiting sends and refuses the peer; a restarted peer refuses the old id', async (t) => {
  const { scheduler, network, a, b } = messengers({ maxQueuedBytesPerPeer: 1024 });
  network.pause('b:1');
  const sends = Array.from({ length: 200 }, () => a.send(B, 'x', new Uint8Array(100)).then(() => 'ok', (err: unknown) => err));
  await scheduler.advanceAsync(50);
  a.forget('B');
  const outcomes = await Promise.all(sends);
  t.ok(outcomes.some((o) => hasCode(o, 'ERR_CLUSTER_PEER_GONE')), 'waiting sends rejected with ERR_CLUSTER_PEER_GONE');
  t.ok(hasCode(await a.send(B, 'x', new Uint8Array(1)).catch((e: unknown) => e), 'ERR_CLUSTER_PEER_GONE'), 'later sends too');
  network.resume('b:1');
  // B's address now hosts someone else as far as A's old peer entry is concerned
  let got = 0;
  b.on('x', () => got++);
  await a.send({ id: 'B-old', address: 'b:1' }, 'x', new Uint8Array(1));
  await scheduler.advanceAsync(100);
  t.equal(got, 0, 'a message for another member id is not delivered');
  t.equal(b.stats.refused, 1, 'the receiver refused the hello');
  t.ok(hasCode(await a.send({ id: 'B-old', address: 'b:1' }, 'x', new Uint8Array(1)).catch((e: unknown) => e), 'ERR_CLUSTER_PEER_GONE'), 'the sender learned the member is gone');
  t.ok(hasCode(await a.send({ id: 'C', address: 'c:1' }, 'x', new Uint8Array(5 * 1024 * 1024)).catch((e: unknown) => e), 'ERR_CLUSTER_MESSAGE_TOO_LARGE'), 'too large is rejected at send');
  await a.close();
  t.ok(hasCode(await a.send(B, 'x', new Uint8Array(1)).catch((e: unknown) => e), 'ERR_CLUSTER_MESSENGER_CLOSED'), 'closed');
});

t.test('messenger: a throwing handler is counted and delivery goes on; a topic with no handler is dropped and counted', async (t) => {
  const { scheduler, a, b } = messengers();
  const got: number[] = [];
  b.on('seq', (_, p) => {
    if (seqOf(p) === 1) throw new Error('handler bug');
    got.push(seqOf(p));
  });
  for (let i = 0; i < 3; i++) await a.send(B, 'seq', seq(i));
  await a.send(B, 'nobody', seq(9));
  const off = b.on('later', () => got.push(-1));
  off();
  await a.send(B, 'later', seq(9));
  await scheduler.advanceAsync(50);
  t.same(got, [0, 2], 'the messages around the failure were delivered');
  t.match(b.stats, { received: 5, handlerErrors: 1, dropped: 2 }, 'counted');
  let self = 0;
  a.on('self', (from) => from.id === 'A' && self++);
  await a.send({ id: 'A', address: 'a:1' }, 'self', seq(1));
  await scheduler.advanceAsync(1);
  t.equal(self, 1, 'a message to this node itself is delivered locally');
});

t.test('messenger: a newer connection from the same member replaces the older one', async (t) => {
  const { scheduler, network, b } = messengers();
  const raw = network.transport('a2:1');
  const open = async () => {
    const opening = raw.openStream('b:1', 1000);
    await scheduler.advanceAsync(10);
    const s = await opening;
    s.write(encodeHello({ fromId: 'A', fromAddress: 'a2:1', toId: 'B' }));
    await scheduler.advanceAsync(10);
    return s;
  };
  const first = await open();
  let firstClosed = false;
  first.onClose(() => (firstClosed = true));
  await open();
  await scheduler.advanceAsync(10);
  t.ok(firstClosed, 'the older connection was closed');
  t.equal(b.stats.malformed + b.stats.refused, 0, 'not counted as a fault');
});
