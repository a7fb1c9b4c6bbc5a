// Reliable messaging throughput between two processes, beside a raw TCP baseline in the same
// run. The sender (this process) and the receiver (a child, ./messaging-child.ts) are both a
// real Messenger over UdpTcpTransport; the sender pipelines a burst of 100-byte payloads
// (sending in synchronous runs of 1,000, awaiting each run, so back-pressure applies) and the
// clock stops when the receiver reports, after a final ordered `mark` message, that it got them
// all.
//
// The baseline is the raw best case for unbatched writes: the same number of 100-byte messages,
// each with a 4-byte length prefix, written over one plain node:net socket (Nagle off) to a
// child that parses the frames and counts them, one `socket.write` per message, without
// waiting for 'drain' (so Node buffers whatever the socket cannot take yet), and the same
// empty-frame mark at the end. No encryption on either side. `ratio` = messenger / raw.
//
// Latency: one message in flight at a time, ping to the receiver and pong back through the
// messenger; p50/p99 of the round trip in ms.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { systemClock, systemScheduler } from '../../src/core/index.js';
import { Messenger } from '../../src/cluster/messaging.js';
import type { Peer } from '../../src/cluster/messaging.js';
import { splitAddress, UdpTcpTransport } from '../../src/cluster/transports/udp-tcp.js';

export interface MessagingBenchResult {
  /** Messages per second through the Messenger, sender to receiver process. */
  perSec: number;
  /** Messages per second over the raw TCP baseline (see the header). */
  rawTcpPerSec: number;
  /** perSec / rawTcpPerSec. */
  ratio: number;
  /** Payload bytes per message. */
  messageBytes: number;
  /** Messages per measured burst. */
  messages: number;
  /** Median one-in-flight round trip through the messenger, ms. */
  p50Ms?: number;
  /** 99th percentile round trip, ms. */
  p99Ms?: number;
}

const PAYLOAD = 100;
const RUN = 1000;
const child = join(import.meta.dirname, 'messaging-child.ts');

async function startChild(mode: 'messenger' | 'raw'): Promise<{ proc: ChildProcess; address: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  for await (const chunk of proc.stdout!) {
    out += String(chunk);
    const m = /ready (\S+)\n/.exec(out);
    if (m) return { proc, address: m[1]! };
  }
  throw new Error(`the ${mode} receiver exited before it was ready`);
}

const median = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

async function messengerRun(messages: number, latencyRounds: number): Promise<{ perSec: number; p50Ms?: number; p99Ms?: number }> {
  const { proc, address } = await startChild('messenger');
  const transport = await UdpTcpTransport.bind();
  const messenger = new Messenger({ transport, selfId: 'bench-sender', clock: systemClock, scheduler: systemScheduler });
  transport.listen(() => undefined, async () => new Uint8Array(), messenger.onStream);
  const peer: Peer = { id: 'bench-receiver', address };
  let done: ((count: number) => void) | undefined;
  messenger.on('done', (_, p) => done?.(Buffer.from(p).readUInt32BE(0)));
  let pong: (() => void) | undefined;
  messenger.on('pong', () => pong?.());
  const payload = new Uint8Array(PAYLOAD).fill(7);
  const burst = async (n: number) => {
    const counted = new Promise<number>((r) => (done = r));
    const start = performance.now();
    for (let sent = 0; sent < n; ) {
      const run: Promise<void>[] = [];
      for (const end = Math.min(n, sent + RUN); sent < end; sent++) run.push(messenger.send(peer, 'bench', payload));
      await Promise.all(run);
    }
    await messenger.send(peer, 'mark', new Uint8Array(0));
    const count = await counted;
    if (count !== n) throw new Error(`receiver counted ${count} of ${n}`);
    return n / ((performance.now() - start) / 1000);
  };
  try {
    await burst(Math.min(messages, 20_000)); // warm-up: connection, JIT
    const perSec = await burst(messages);
    const rtts: number[] = [];
    for (let i = 0; i < latencyRounds; i++) {
      const back = new Promise<void>((r) => (pong = r));
      const start = performance.now();
      await messenger.send(peer, 'ping', payload);
      await back;
      rtts.push(performance.now() - start);
    }
    rtts.sort((a, b) => a - b);
    return latencyRounds > 0 ? { perSec, p50Ms: median(rtts, 0.5), p99Ms: median(rtts, 0.99) } : { perSec };
  } finally {
    await messenger.close();
    await transport.close();
    proc.kill('SIGKILL');
  }
}

async function rawRun(messages: number): Promise<number> {
  const { proc, address } = await startChild('raw');
  const [host, port] = splitAddress(address);
  const socket = createConnection({ host, port });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const frame = Buffer.alloc(4 + PAYLOAD, 7);
  frame.writeUInt32BE(PAYLOAD, 0);
  const mark = Buffer.alloc(4);
  const burst = async (n: number) => {
    const answered = once(socket, 'data');
    const start = performance.now();
    for (let i = 0; i < n; i++) socket.write(frame);
    socket.write(mark);
    const [reply] = (await answered) as [Buffer];
    if (reply.readUInt32BE(0) !== n) throw new Error(`raw receiver counted ${reply.readUInt32BE(0)} of ${n}`);
    return n / ((performance.now() - start) / 1000);
  };
  try {
    await burst(Math.min(messages, 20_000));
    return await burst(messages);
  } finally {
    socket.destroy();
    proc.kill('SIGKILL');
  }
}

/** Runs the raw baseline, then the messenger, between two processes; see the header for what each measures. */
export async function benchMessaging(opts: { quick: boolean; progress: (line: string) => void }): Promise<MessagingBenchResult> {
  const messages = opts.quick ? 100_000 : 1_000_000;
  opts.progress(`messaging: raw TCP baseline, ${messages} × ${PAYLOAD} B, one write per message`);
  const rawTcpPerSec = await rawRun(messages);
  opts.progress(`messaging: raw ${Math.round(rawTcpPerSec)} msg/s; messenger, ${messages} × ${PAYLOAD} B`);
  const m = await messengerRun(messages, opts.quick ? 300 : 2000);
  opts.progress(`messaging: messenger ${Math.round(m.perSec)} msg/s, round trip p50 ${m.p50Ms?.toFixed(3)} ms, p99 ${m.p99Ms?.toFixed(3)} ms`);
  return { perSec: m.perSec, rawTcpPerSec, ratio: m.perSec / rawTcpPerSec, messageBytes: PAYLOAD, messages, ...(m.p50Ms === undefined ? {} : { p50Ms: m.p50Ms, p99Ms: m.p99Ms }) };
}
