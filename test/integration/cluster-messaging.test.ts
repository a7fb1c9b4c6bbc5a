// Reliable messaging over real sockets on loopback: the Messenger over UdpTcpTransport in this
// process, and a receiver in a second process. Real time here, so waits poll for an outcome
// with a deadline; nothing asserts how long anything took.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { hasCode, systemClock, systemScheduler } from '../../src/core/index.js';
import { Keyring } from '../../src/cluster/keyring.js';
import { Messenger } from '../../src/cluster/messaging.js';
import type { Peer } from '../../src/cluster/messaging.js';
import type { Stream, Transport } from '../../src/cluster/transport.js';
import { secureTransport } from '../../src/cluster/transports/secure.js';
import { PREAMBLE_STREAM, TcpStream, UdpTcpTransport } from '../../src/cluster/transports/udp-tcp.js';

const closers: (() => Promise<void>)[] = [];
t.teardown(async () => {
  for (const c of closers.reverse()) await c();
});

interface Node {
  messenger: Messenger;
  transport: Transport;
  peer: Peer;
  /** Streams this node accepted (the raw ones, before any sealing). */
  accepted: Stream[];
}

async function node(id: string, options: { keyring?: Keyring; maxQueuedBytesPerPeer?: number } = {}): Promise<Node> {
  const bound = await UdpTcpTransport.bind();
  const accepted: Stream[] = [];
  const raw: Transport = {
    ...bound,
    address: bound.address,
    sendPacket: (to, d) => bound.sendPacket(to, d),
    exchange: (to, d, ms) => bound.exchange(to, d, ms),
    openStream: (to, ms) => bound.openStream(to, ms),
    listen: (p, e, s) => bound.listen(p, e, s && ((stream) => (accepted.push(stream), s(stream)))),
    close: () => bound.close(),
  };
  const transport = options.keyring ? secureTransport(raw, options.keyring) : raw;
  const messenger = new Messenger({ transport, selfId: id, clock: systemClock, scheduler: systemScheduler, maxQueuedBytesPerPeer: options.maxQueuedBytesPerPeer });
  transport.listen(() => undefined, async () => new Uint8Array(), messenger.onStream);
  closers.push(async () => {
    await messenger.close();
    await transport.close();
  });
  return { messenger, transport, peer: { id, address: transport.address }, accepted };
}

/** Polls `done` until true or the deadline (real processes and sockets: no virtual time here). */
async function eventually(done: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (done()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return done();
}

const seq = (i: number) => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(i);
  return b;
};
const seqOf = (p: Uint8Array) => Buffer.from(p.buffer, p.byteOffset, p.byteLength).readUInt32BE(0);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

t.test('10,000 messages arrive in order, batched under a burst', async (t) => {
  const [a, b] = [await node('a'), await node('b')];
  const got: number[] = [];
  b.messenger.on('seq', (from, p) => from.id === 'a' && got.push(seqOf(p)));
  await Promise.all(range(0, 10_000).map((i) => a.messenger.send(b.peer, 'seq', seq(i))));
  t.ok(await eventually(() => got.length >= 10_000), 'all arrived');
  t.same(got, range(0, 10_000), 'in send order, each once');
  t.equal(a.messenger.stats.sent, 10_000);
  t.ok(a.messenger.stats.batchesOut < a.messenger.stats.sent / 10, `batched: ${a.messenger.stats.batchesOut} frames for ${a.messenger.stats.sent} messages`);
});

t.test('reconnects after the receiver cuts the connection; later messages arrive in order', async (t) => {
  const [a, b] = [await node('a'), await node('b')];
  const got: number[] = [];
  b.messenger.on('seq', (_, p) => got.push(seqOf(p)));
  await a.messenger.send(b.peer, 'seq', seq(0));
  t.ok(await eventually(() => got.length === 1), 'first message arrived');
  (b.accepted[0] as TcpStream).destroy();
  // Keep sending until messages flow again; those written into the dying connection may be lost (at most once).
  let i = 1;
  do await a.messenger.send(b.peer, 'seq', seq(i++));
  while (!(await eventually(() => got.at(-1) === i - 1, 50)) && i < 500);
  for (const end = i + 100; i < end; i++) await a.messenger.send(b.peer, 'seq', seq(i));
  t.ok(await eventually(() => got.at(-1) === i - 1), 'messages sent after the reconnect arrive');
  t.ok(got.every((n, k) => k === 0 || n > got[k - 1]!), 'never reordered or duplicated');
  const firstAfter = got.findIndex((n) => n >= 1);
  t.same(got.slice(firstAfter), range(got[firstAfter]!, i), 'nothing lost once the new connection is up');
  t.equal(a.messenger.stats.reconnects, 1, 'one reconnect');
  t.equal(b.accepted.length, 2, 'over a second connection');
});

t.test('a receiver that stops reading back-pressures send; memory stays bounded; resume delivers all', async (t) => {
  const bound = 64 * 1024;
  const [a, b] = [await node('a', { maxQueuedBytesPerPeer: bound }), await node('b')];
  let got = 0;
  b.messenger.on('x', () => got++);
  await a.messenger.send(b.peer, 'x', new Uint8Array(1));
  t.ok(await eventually(() => got === 1));
  (b.accepted[0] as TcpStream).pause();
  let resolved = 0;
  const payload = new Uint8Array(1024);
  const sends: Promise<void>[] = [];
  // Far more than socket buffers and the bound can hold: 16 MiB.
  for (let i = 0; i < 16 * 1024; i++) sends.push(a.messenger.send(b.peer, 'x', payload).then(() => void resolved++));
  // Wait until the count has not moved for 20 polls in a row.
  let before = -1;
  let still = 0;
  await eventually(() => {
    still = resolved === before ? still + 1 : 0;
    before = resolved;
    return still >= 20 && resolved > 0;
  }, 10_000);
  await new Promise((r) => setTimeout(r, 200));
  t.ok(resolved < sends.length, `sends stopped resolving (${resolved} of ${sends.length})`);
  t.equal(resolved, before, 'and stay stopped while the receiver does not read');
  t.ok(a.messenger.queuedBytes('b') <= bound, `the queue holds at most the bound (${a.messenger.queuedBytes('b')} bytes)`);
  (b.accepted[0] as TcpStream).resume();
  await Promise.all(sends);
  t.ok(await eventually(() => got === sends.length + 1, 30_000), 'all delivered after the receiver reads again');
});

t.test('a hello for another member id is refused: a restarted process does not get its predecessor mail', async (t) => {
  const [a, b] = [await node('a'), await node('b-second-life')];
  let got = 0;
  b.messenger.on('x', () => got++);
  const predecessor = { id: 'b-first-life', address: b.peer.address };
  await a.messenger.send(predecessor, 'x', new Uint8Array(1));
  t.ok(await eventually(() => b.messenger.stats.refused === 1), 'refused');
  // The refusal travels back to the sender: poll until its sends reject.
  let again: unknown;
  await eventually(() => {
    void a.messenger.send(predecessor, 'x', new Uint8Array(1)).catch((e: unknown) => (again = e));
    return again !== undefined;
  });
  t.ok(hasCode(again, 'ERR_CLUSTER_PEER_GONE'), 'the sender learned that member is gone');
  t.equal(got, 0, 'nothing delivered');
});

t.test('malformed frames and garbage lengths are counted and cut off; the node keeps serving', async (t) => {
  const [a, b] = [await node('a'), await node('b')];
  let got = 0;
  b.messenger.on('x', () => got++);
  // A stream whose first frame is not a hello, then one with a hello and a broken batch.
  const s1 = await a.transport.openStream(b.peer.address, 1000);
  s1.write(Uint8Array.of(0x02, 0, 0, 0, 9));
  const s2 = await a.transport.openStream(b.peer.address, 1000);
  s2.write(Buffer.concat([Uint8Array.of(0x01, 1, 0, 1), Buffer.from('a'), Uint8Array.of(0, 1), Buffer.from('x'), Uint8Array.of(0, 1), Buffer.from('b')]));
  s2.write(Uint8Array.of(0x02, 0, 0, 0, 1, 0, 5));
  const closed = (s: Stream) => new Promise<void>((r) => s.onClose(() => r()));
  await Promise.all([closed(s1), closed(s2)]);
  t.equal(b.messenger.stats.malformed, 2, 'both counted, both closed');
  // A raw connection announcing a 4 GiB frame, and one that sends nonsense as its first byte.
  for (const bytes of [Buffer.from([PREAMBLE_STREAM, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]), Buffer.from('GET / HTTP/1.1\r\n\r\n')]) {
    const [host, port] = b.peer.address.split(':');
    const socket = createConnection({ host: host!, port: Number(port) });
    socket.on('error', () => undefined);
    socket.write(bytes);
    await new Promise((r) => socket.on('close', r));
    t.pass(`the server cut off ${JSON.stringify(bytes.subarray(0, 5).toString('latin1'))}…`);
  }
  await a.messenger.send(b.peer, 'x', new Uint8Array(1));
  t.ok(await eventually(() => got === 1), 'a well-behaved peer is still served');
});

t.test('over the secure transport: same key talks, another key is rejected, keys rotate without losing a message', async (t) => {
  const [k1, k2, other] = [randomBytes(32), randomBytes(32), randomBytes(32)];
  const [ra, rb] = [new Keyring([k1]), new Keyring([k1])];
  const [a, b, c] = [await node('a', { keyring: ra }), await node('b', { keyring: rb }), await node('c', { keyring: new Keyring([other]) })];
  const got: number[] = [];
  b.messenger.on('seq', (_, p) => got.push(seqOf(p)));
  let stranger = 0;
  b.messenger.on('stranger', () => stranger++);
  let i = 0;
  // Each step is a cluster-wide operation: it is complete once what was sealed before it has arrived.
  const burst = async (n: number) => {
    for (const end = i + n; i < end; i++) await a.messenger.send(b.peer, 'seq', seq(i));
    await eventually(() => got.length === i);
  };
  await burst(100);
  t.ok(await eventually(() => got.length === 100), 'same key: delivered');

  await c.messenger.send(b.peer, 'stranger', new Uint8Array(1));
  const bStats = (b.transport as ReturnType<typeof secureTransport>).stats;
  t.ok(await eventually(() => bStats.rejected >= 1), `another key: rejected and counted (${bStats.rejected})`);
  t.equal(stranger, 0, 'nothing from the stranger was handed up');

  // Rotation, memberlist style, while messages flow.
  ra.install(k2);
  await burst(50);
  rb.install(k2);
  await burst(50);
  ra.use(k2);
  await burst(50);
  rb.use(k2);
  await burst(50);
  ra.remove(k1);
  rb.remove(k1);
  await burst(50);
  t.ok(await eventually(() => got.length === i), `every message arrived through the rotation (${got.length} of ${i}, rejected ${bStats.rejected})`);
  t.same(got, range(0, i), 'in order');
  t.equal(a.messenger.stats.reconnects, 0, 'on the same connection');
});

t.test('two processes: 10,000 messages in order to a receiver in another process, sealed', async (t) => {
  const key = randomBytes(32).toString('base64');
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'support', 'messaging-node.ts'), key], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void child.kill('SIGKILL'));
  const lines: string[] = [];
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
  });
  t.ok(await eventually(() => lines.some((l) => l.startsWith('ready ')), 20_000), 'receiver ready');
  const [, address, id] = lines.find((l) => l.startsWith('ready '))!.split(' ');
  const receiver = { id: id!, address: address! };
  const a = await node('sender', { keyring: new Keyring([key]) });
  await Promise.all(range(0, 10_000).map((i) => a.messenger.send(receiver, 'seq', seq(i))));
  let report: { count: number; inOrder: boolean; last: number } | undefined;
  await eventually(() => {
    const line = [...lines].reverse().find((l) => l.startsWith('{'));
    report = line ? (JSON.parse(line) as typeof report) : undefined;
    if (report?.count === 10_000) return true;
    void a.messenger.send(receiver, 'report', new Uint8Array(0));
    return false;
  }, 20_000);
  t.same(report, { count: 10_000, inOrder: true, last: 9999 }, 'all 10,000, in order');
});

t.test('closing a transport closes its streams on both ends', async (t) => {
  const [a, b] = [await node('a'), await node('b')];
  const s = await a.transport.openStream(b.peer.address, 1000);
  t.ok(await eventually(() => b.accepted.length === 1), 'accepted (b waits for a hello)');
  const closed = (x: Stream) => new Promise<void>((r) => x.onClose(() => r()));
  const both = Promise.all([closed(s), closed(b.accepted[0]!)]);
  await b.transport.close();
  await both;
  t.pass('both ends saw the close');
  t.notOk(s.write(Uint8Array.of(2)), 'writing to it returns false');
});
