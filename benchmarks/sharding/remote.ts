/**
 * The remote scenario: two processes (./node.ts). B has role `host` and hosts every entity of
 * the counter type (and its coordinator); A has no role, so its region only routes: every ask
 * A sends crosses to B over the cluster's reliable messaging and its reply comes back. After
 * warming (each of the entities asked once, so A knows every shard's home, then a 1 s loop),
 * A runs the closed loop (`concurrency` asks in flight, round-robin over the entities) and
 * records each ask's latency. The baseline in the same run is ./raw-tcp.ts: request/response
 * frames of about the same sizes over one plain socket between two processes, with the same
 * number in flight.
 */
import { join } from 'node:path';
import { Child } from './common.js';
import type { LoadResult } from './common.js';

const nodeFile = join(import.meta.dirname, 'node.ts');
const rawFile = join(import.meta.dirname, 'raw-tcp.ts');

export interface RemoteResult {
  concurrency: number;
  entities: number;
  sharded: LoadResult[];
  rawTcp: LoadResult[];
  rawRequestBytes: number;
  rawReplyBytes: number;
  /** B's messaging counters after the run. */
  hostMessaging: unknown;
}

export async function benchRemote(opts: { seconds: number; rounds: number; concurrency: number; entities: number; progress: (line: string) => void; senderNodeArgs?: string[]; hostNodeArgs?: string[] }): Promise<RemoteResult> {
  const { seconds, rounds, concurrency, entities, progress } = opts;
  // Raw TCP baseline first.
  const server = new Child('raw-tcp server', rawFile, ['server']);
  let raw: { requestBytes: number; replyBytes: number; rounds: LoadResult[] };
  try {
    const port = await server.next('ready');
    progress(`remote: raw TCP baseline, ${concurrency} in flight, ${rounds} × ${seconds} s`);
    const client = new Child('raw-tcp client', rawFile, ['client', port, String(seconds), String(concurrency), String(rounds)]);
    try {
      raw = JSON.parse(await client.next('result', (rounds * seconds + 60) * 1000)) as typeof raw;
    } finally {
      await client.stop();
    }
  } finally {
    await server.stop();
  }
  for (const r of raw.rounds) progress(`remote: raw TCP ${Math.round(r.perSec)} req/s, p50 ${r.p50Ms.toFixed(3)} ms, p99 ${r.p99Ms.toFixed(3)} ms`);

  const b = new Child('remote host B', nodeFile, ['host', '100', '10000'], opts.hostNodeArgs ?? []);
  let a: Child | undefined;
  try {
    const [address] = (await b.next('ready')).split(' ');
    a = new Child('remote sender A', nodeFile, ['-', '100', '10000', address!], opts.senderNodeArgs ?? []);
    await a.next('ready');
    await a.request('members 2');
    const warm = await a.request<{ ok: number; failed: number; firstError?: string }>(`warm ${entities}`);
    if (warm.failed > 0) throw new Error(`warming: ${warm.failed} asks failed (${warm.firstError})`);
    const hosted = await b.request<{ hostedShards: number; activeEntities: number }>('stats');
    const sender = await a.request<{ hostedShards: number }>('stats');
    progress(`remote: B hosts ${hosted.hostedShards} shards, ${hosted.activeEntities} entities; A hosts ${sender.hostedShards}`);
    await a.request(`load 1 ${concurrency} ${entities}`);
    const sharded: LoadResult[] = [];
    for (let r = 0; r < rounds; r++) {
      const s = await a.request<LoadResult>(`load ${seconds} ${concurrency} ${entities}`);
      sharded.push(s);
      progress(`remote: round ${r + 1}/${rounds}: ${Math.round(s.perSec)} asks/s, p50 ${s.p50Ms.toFixed(3)} ms, p99 ${s.p99Ms.toFixed(3)} ms, errors ${s.errors}`);
    }
    const stats = await b.request<{ messaging: unknown }>('stats');
    return { concurrency, entities, sharded, rawTcp: raw.rounds, rawRequestBytes: raw.requestBytes, rawReplyBytes: raw.replyBytes, hostMessaging: stats.messaging };
  } finally {
    await Promise.all([a?.stop(), b.stop()]);
  }
}
