/**
 * The proxy benchmark's load generator: one process for every target, so the proxy and its
 * baselines are driven by the same code. Reads one job per line on stdin (JSON `LoadJob`),
 * answers `result <json LoadResult>` on stdout; exits when stdin closes.
 *
 * Two modes:
 * - **closed**: `concurrency` calls in flight, each followed at once by the next, for `seconds`;
 *   latency from send to answer.
 * - **fixed**: open loop at `rate` calls/s; call k is due at start + k/rate and its latency is
 *   measured from that scheduled time, not from when it was actually sent, so a stall of the
 *   server (or of this process) shows in the figures instead of being hidden by sending less
 *   (no coordinated omission). HTTP calls due while every connection is busy wait in a queue.
 *
 * Before the clock starts, one unrecorded call per connection opens the connections.
 * Calls are numbered from `offset`; call i addresses user `i % users` (the entity key) and
 * product `i / users % 10`, so consecutive calls spread over the shards.
 */
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { GrpcH2Client, HttpPool, httpPost, type Target } from './proxy-clients.js';
import { encodeAddLineItem } from './proxy-wire.js';

export interface LoadJob {
  protocol: 'http' | 'grpc';
  port: number;
  mode: 'closed' | 'fixed';
  /** Closed: calls in flight. Fixed: HTTP connections (gRPC: unused). */
  concurrency: number;
  /** Fixed mode: calls per second. */
  rate?: number;
  seconds: number;
  /** Closed mode: stop after this many calls instead (activation passes). */
  calls?: number;
  users: number;
  offset: number;
  /** gRPC sessions (HTTP/2 connections). */
  sessions?: number;
}

export interface LoadResult {
  calls: number;
  errors: number;
  firstError?: string;
  seconds: number;
  perSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU this load generator used during the job, as a fraction of one core. */
  loadGeneratorCpu: number;
}

const userId = (i: number, users: number) => `user-${i % users}`;
const productId = (i: number, users: number) => `p${Math.floor(i / users) % 10}`;

function target(job: LoadJob): Target {
  if (job.protocol === 'http') {
    return new HttpPool(job.port, job.concurrency, (i) =>
      httpPost(`/cart/${userId(i, job.users)}/items/add`, `{"productId":"${productId(i, job.users)}","name":"Widget","quantity":1}`),
    );
  }
  return new GrpcH2Client(job.port, job.sessions ?? 4, '/com.example.shoppingcart.ShoppingCart/AddItem', (i) =>
    encodeAddLineItem({ userId: userId(i, job.users), productId: productId(i, job.users), name: 'Widget', quantity: 1 }),
  );
}

/** Latencies in ms, in a growable typed array. */
class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;
  push(x: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = x;
  }
  sorted(): Float64Array {
    return this.data.slice(0, this.length).sort();
  }
}

/** Nearest-rank percentile of sorted samples. */
function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

async function run(job: LoadJob): Promise<LoadResult> {
  const t = target(job);
  const samples = new Samples();
  let errors = 0;
  let firstError: string | undefined;
  let next = job.offset;
  // Connections are opened before the clock starts: one unrecorded call per connection
  // (HTTP) or per HTTP/2 session (gRPC), all at once.
  const priming = Math.min(t.capacity, job.protocol === 'http' ? job.concurrency : (job.sessions ?? 4));
  await Promise.all(Array.from({ length: priming }, () => new Promise<void>((resolve) => t.send(next++, () => resolve()))));
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const deadline = start + job.seconds * 1000;
  const record = (since: number, error?: string) => {
    if (error === undefined) samples.push(performance.now() - since);
    else {
      errors++;
      firstError ??= error;
    }
  };
  await new Promise<void>((resolve) => {
    let inFlight = 0;
    if (job.mode === 'closed') {
      const limit = job.calls === undefined ? Number.POSITIVE_INFINITY : job.offset + job.calls;
      const more = () => (job.calls === undefined ? performance.now() < deadline : next < limit);
      const launch = () => {
        const sent = performance.now();
        inFlight++;
        t.send(next++, (error) => {
          inFlight--;
          record(sent, error);
          if (more()) launch();
          else if (inFlight === 0) resolve();
        });
      };
      for (let k = 0; k < job.concurrency && more(); k++) launch();
      if (inFlight === 0) resolve();
      return;
    }
    // Fixed rate: a 1 ms ticker sends every call that is due; a call waits for a connection
    // if none is free, its latency still counted from its scheduled time.
    const interval = 1000 / job.rate!;
    const queue: number[] = []; // scheduled times of due calls not yet sent
    let scheduled = 0;
    let stopped = false;
    const dispatch = (due: number) => {
      inFlight++;
      t.send(next++, (error) => {
        inFlight--;
        record(due, error);
        if (queue.length > 0) dispatch(queue.shift()!);
        else if (stopped && inFlight === 0) resolve();
      });
    };
    const tick = () => {
      const now = performance.now();
      for (;;) {
        const due = start + scheduled * interval;
        if (due > now || due >= deadline) break;
        scheduled++;
        if (inFlight < t.capacity) dispatch(due);
        else queue.push(due);
      }
      if (start + scheduled * interval >= deadline) {
        stopped = true;
        if (inFlight === 0 && queue.length === 0) resolve();
        return;
      }
      setTimeout(tick, Math.max(0, Math.min(1, start + scheduled * interval - now)));
    };
    tick();
  });
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  t.close();
  const sorted = samples.sorted();
  return {
    calls: samples.length,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    seconds,
    perSec: samples.length / seconds,
    p50Ms: pct(sorted, 50),
    p90Ms: pct(sorted, 90),
    p99Ms: pct(sorted, 99),
    maxMs: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    loadGeneratorCpu: (cpu.user + cpu.system) / 1e6 / seconds,
  };
}

// Jobs run one after another, in the order they arrive.
let chain = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const job = JSON.parse(line) as LoadJob;
  chain = chain.then(async () => {
    const result = await run(job).catch((e: Error) => ({ failed: e.message }));
    process.stdout.write(`result ${JSON.stringify(result)}\n`);
  });
});
lines.on('close', () => void chain.then(() => process.exit(0)));
process.stdout.write('ready\n');
