import t from 'tap';
import {
  FRAME_BATCH,
  MAX_TOPIC_BYTES,
  OutboundQueue,
  decodeFrame,
  encodeBatch,
  encodeHello,
  encodeRefused,
  encodeTopic,
  messageBytes,
  reconnectBackoffMs,
} from '../../../src/cluster/messaging-codec.js';
import { FrameReader, frameHeader } from '../../../src/cluster/transports/frame-reader.js';

const msg = (topic: string, payload: number[]) => ({ topic: encodeTopic(topic), payload: Uint8Array.from(payload) });
const batch = (...ms: ReturnType<typeof msg>[]) => encodeBatch(ms, ms.reduce((n, m) => n + messageBytes(m), 0));

t.test('frames round-trip', async (t) => {
  const hello = { fromId: 'n1#abc', fromAddress: '127.0.0.1:7946', toId: 'n2#dëf' };
  t.same(decodeFrame(encodeHello(hello)), { kind: 'hello', hello });
  t.same(decodeFrame(encodeRefused('not me')), { kind: 'refused', reason: 'not me' });
  const table: ReturnType<typeof msg>[][] = [[], [msg('a', [])], [msg('t', [1, 2, 3]), msg('', [4]), msg('ünï', new Array(300).fill(7))]];
  for (const ms of table) {
    const decoded = decodeFrame(batch(...ms));
    t.same(
      decoded?.kind === 'batch' && decoded.messages.map((m) => ({ topic: m.topic, payload: [...m.payload] })),
      ms.map((m) => ({ topic: Buffer.from(m.topic).toString(), payload: [...m.payload] })),
      `batch of ${ms.length}`,
    );
  }
});

t.test('malformed frames decode to undefined, never throw', async (t) => {
  const good = batch(msg('t', [1, 2, 3]));
  const table: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['unknown kind', Uint8Array.of(0x7f, 0, 0)],
    ['hello of another version', Uint8Array.of(0x01, 9, 0, 0, 0, 0, 0, 0)],
    ['hello truncated', encodeHello({ fromId: 'a', fromAddress: 'b', toId: 'c' }).subarray(0, 8)],
    ['hello with trailing bytes', Buffer.concat([encodeHello({ fromId: 'a', fromAddress: 'b', toId: 'c' }), Uint8Array.of(0)])],
    ['batch truncated', good.subarray(0, good.length - 1)],
    ['batch with trailing bytes', Buffer.concat([good, Uint8Array.of(0)])],
    ['batch with a count it cannot hold', Uint8Array.of(FRAME_BATCH, 0xff, 0xff, 0xff, 0xff, 0, 0)],
    ['batch whose payload length overruns', Uint8Array.of(FRAME_BATCH, 0, 0, 0, 1, 0, 0, 0xff, 0, 0, 0)],
    ['refused truncated', Uint8Array.of(0x03, 0, 5, 65)],
  ];
  for (const [name, frame] of table) t.equal(decodeFrame(frame), undefined, name);
});

t.test('topics longer than a u16 are refused at encoding', async (t) => {
  t.equal(encodeTopic('x'.repeat(MAX_TOPIC_BYTES)).length, MAX_TOPIC_BYTES);
  t.throws(() => encodeTopic('x'.repeat(MAX_TOPIC_BYTES + 1)), RangeError);
});

t.test('the outbound queue counts bytes, admits up to its bound, and takes batches in order', async (t) => {
  const q = new OutboundQueue(100);
  const m = (n: number) => ({ topic: encodeTopic('t'), payload: new Uint8Array(n) }); // 7 + n bytes
  t.ok(q.admits(1000), 'an empty queue admits anything (a big message is not stuck forever)');
  q.push(m(43)); // 50
  t.equal(q.bytes, 50);
  const table: [size: number, admitted: boolean][] = [[50, true], [51, false]];
  for (const [size, admitted] of table) t.equal(q.admits(size), admitted, `admits ${size} at 50/100`);
  q.push(m(43));
  q.push(m(3)); // 10
  t.same(q.take(100).messages.map((x) => x.payload.length), [43, 43], 'a batch stops before its byte limit');
  t.equal(q.bytes, 10);
  t.same(q.take(1).messages.map((x) => x.payload.length), [3], 'but always takes one message');
  t.same(q.take(100), { messages: [], bytes: 0 }, 'empty');
  for (let i = 0; i < 5000; i++) q.push(m(i % 7));
  let taken = 0;
  for (let b = q.take(64); b.messages.length > 0; b = q.take(64)) taken += b.messages.length;
  t.equal(taken, 5000, 'long runs compact without losing messages');
  q.push(m(1));
  t.equal(q.clear(), 1);
  t.equal(q.bytes, 0);
});

t.test('reconnect backoff doubles from the base up to the cap', async (t) => {
  const table: [attempt: number, ms: number][] = [[0, 100], [1, 200], [2, 400], [5, 3200], [6, 5000], [1000, 5000], [-1, 100], [NaN, 100]];
  for (const [attempt, ms] of table) t.equal(reconnectBackoffMs(attempt), ms, `attempt ${attempt}`);
  t.equal(reconnectBackoffMs(3, 10, 50), 50, 'custom base and cap');
});

t.test('the frame reader splits a byte stream at any chunk boundary, and refuses oversized lengths', async (t) => {
  const frames = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(1000, 7), Buffer.from('last')];
  const wire = Buffer.concat(frames.flatMap((f) => [frameHeader(f.length), f]));
  for (const chunkSize of [1, 3, 4, 5, 999, wire.length]) {
    const reader = new FrameReader(1000);
    const got: Buffer[] = [];
    for (let off = 0; off < wire.length; off += chunkSize) reader.push(wire.subarray(off, off + chunkSize), (f) => got.push(Buffer.from(f)));
    t.same(got, frames, `chunks of ${chunkSize}`);
    t.equal(reader.buffered, 0);
  }
  const reader = new FrameReader(10);
  t.throws(() => reader.push(Buffer.from([0, 0, 0, 11]), () => undefined), { code: 'ERR_CLUSTER_FRAME_TOO_LARGE' });
  t.throws(() => new FrameReader(10).push(Buffer.from([0xff, 0xff, 0xff, 0xff]), () => undefined), { code: 'ERR_CLUSTER_FRAME_TOO_LARGE' }, 'garbage length');
});
