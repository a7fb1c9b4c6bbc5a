/**
 * The remote scenario's in-run baseline: raw request/response over one node:net socket between
 * two processes, length-prefixed, pipelined with the same number of requests in flight as the
 * sharding run. No encoding, no routing, no reliability layer: the floor the sharding and
 * messaging layers add to.
 *   node --import tsx benchmarks/sharding/raw-tcp.ts server
 *       listens on 127.0.0.1, prints `ready <port>`; answers every request frame (96 bytes,
 *       about a sharding `deliver` frame) with a 60-byte reply frame (about a `reply` frame)
 *   node --import tsx benchmarks/sharding/raw-tcp.ts client <port> <seconds> <concurrency> <rounds>
 *       a closed loop of <concurrency> requests in flight (replies come back in order on the one
 *       socket), one socket.write per request (Nagle off), latency of each; prints
 *       `result <json>` (a list of rounds, after a 1 s warm-up) and exits
 */
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { FrameReader, frameHeader } from '../../src/cluster/transports/frame-reader.js';
import { closedLoop, entityIds, printResult } from './common.js';
import type { LoadResult } from './common.js';

const REQUEST_BYTES = 96;
const REPLY_BYTES = 60;
const [mode, portArg, secondsArg, concurrencyArg, roundsArg] = process.argv.slice(2);

const frame = (bytes: number) => Buffer.concat([frameHeader(bytes), Buffer.alloc(bytes, 7)]);

if (mode === 'server') {
  const reply = frame(REPLY_BYTES);
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    const reader = new FrameReader(1 << 20);
    socket.on('data', (chunk: Buffer) => reader.push(chunk, () => socket.write(reply)));
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`));
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
} else {
  const socket = createConnection({ host: '127.0.0.1', port: Number(portArg) });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const request = frame(REQUEST_BYTES);
  const waiting: (() => void)[] = [];
  let head = 0;
  const reader = new FrameReader(1 << 20);
  socket.on('data', (chunk: Buffer) =>
    reader.push(chunk, () => {
      const resolve = waiting[head];
      waiting[head++] = undefined as unknown as () => void;
      if (head > 1 << 16) {
        waiting.splice(0, head);
        head = 0;
      }
      resolve?.();
    }),
  );
  const call = () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      socket.write(request);
    });
  const ids = entityIds(1000);
  const concurrency = Number(concurrencyArg);
  await closedLoop(call, ids, concurrency, 1);
  const rounds: LoadResult[] = [];
  for (let r = 0; r < Number(roundsArg); r++) rounds.push(await closedLoop(call, ids, concurrency, Number(secondsArg)));
  printResult({ requestBytes: REQUEST_BYTES, replyBytes: REPLY_BYTES, concurrency, rounds });
  socket.destroy();
  process.exit(0);
}
