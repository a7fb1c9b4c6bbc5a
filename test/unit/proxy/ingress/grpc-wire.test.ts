/**
 * The gRPC length-prefixed framing the ingress and the user-function channel share: messages
 * come back whole and in order however the byte stream is cut, and bad frames are refused. And
 * `grpc-timeout`, which the ingress and the user-function library's server both enforce.
 */
import t from 'tap';
import { Status } from '../../../../src/proxy/dispatch.js';
import { encodeFrame, FrameDecoder, GrpcFrameError, parseGrpcTimeout } from '../../../../src/proxy/ingress/grpc-wire.js';

/** A deterministic generator (mulberry32), so a failing cut can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('messages survive any cut of the stream: empty, small and large, packed and split', async (t) => {
  const rnd = random(7);
  const messages = [0, 1, 5, 100, 4096, 70_000, 0, 3].map((n, i) => Buffer.alloc(n, i + 1));
  const stream = Buffer.concat(messages.map((m) => encodeFrame(m)));
  for (let trial = 0; trial < 200; trial++) {
    const decoder = new FrameDecoder(1 << 20);
    const out: Buffer[] = [];
    for (let at = 0; at < stream.length; ) {
      const size = Math.max(1, Math.floor(rnd() * (trial % 2 === 0 ? 20 : 20_000)));
      out.push(...decoder.push(stream.subarray(at, at + size)));
      at += size;
    }
    if (out.length !== messages.length || out.some((m, i) => !m.equals(messages[i]!)) || decoder.partial) {
      t.fail(`trial ${trial}: ${out.length} messages, partial ${decoder.partial}`);
      return;
    }
  }
  t.pass('200 random cuts give back the 8 messages, nothing left over');
});

t.test('a stream that stops mid-message is partial; a large message in small chunks is joined once', async (t) => {
  const decoder = new FrameDecoder(8 << 20);
  const big = Buffer.alloc(4 << 20, 9);
  const frame = encodeFrame(big);
  t.same(decoder.push(frame.subarray(0, 3)), [], 'half a header: nothing yet');
  t.ok(decoder.partial);
  let done: Buffer[] = [];
  for (let at = 3; at < frame.length; at += 16_384) done = done.concat(decoder.push(frame.subarray(at, at + 16_384)));
  t.equal(done.length, 1);
  t.ok(done[0]!.equals(big), 'the 4 MiB message, from 256 chunks of 16 KiB');
  t.notOk(decoder.partial);
});

t.test('compressed and oversized frames are refused with their gRPC status', async (t) => {
  const statusOf = (decoder: FrameDecoder, chunk: Buffer): number | undefined => {
    try {
      decoder.push(chunk);
      return undefined;
    } catch (error) {
      return error instanceof GrpcFrameError ? error.status : -1;
    }
  };
  t.equal(statusOf(new FrameDecoder(100), encodeFrame(Buffer.from('x'), 1)), Status.INTERNAL, 'compressed: INTERNAL');
  t.equal(statusOf(new FrameDecoder(100), encodeFrame(Buffer.alloc(101))), Status.RESOURCE_EXHAUSTED, 'over the limit: RESOURCE_EXHAUSTED');
  const header = encodeFrame(Buffer.alloc(101)).subarray(0, 5);
  t.equal(statusOf(new FrameDecoder(100), header), Status.RESOURCE_EXHAUSTED, 'refused from the header alone, before the body arrives');
});

t.test('grpc-timeout: at most 8 digits and one unit of H M S m u n, in milliseconds; anything else is no deadline', async (t) => {
  const table: [string | undefined, number | undefined][] = [
    ['2H', 7_200_000],
    ['3M', 180_000],
    ['5S', 5000],
    ['50m', 50],
    ['1500u', 1.5],
    ['2000000n', 2],
    ['99999999m', 99_999_999],
    ['596H', 2_145_600_000], // within a Node timer's reach (2^31 - 1 ms)
    ['597H', undefined], // legal but beyond it: no deadline, not one that fires at once
    ['99999999S', undefined],
    ['0m', 0],
    [undefined, undefined],
    ['', undefined],
    ['50', undefined],
    ['m', undefined],
    ['123456789m', undefined],
    ['1.5S', undefined],
    ['-1S', undefined],
    [' 1S', undefined],
    ['1s', undefined],
    ['1mm', undefined],
  ];
  for (const [header, ms] of table) t.equal(parseGrpcTimeout(header), ms, String(header));
});
