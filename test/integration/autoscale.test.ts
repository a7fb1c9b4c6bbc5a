// Autoscaling seen working on this machine, with real processes over UDP/TCP on 127.0.0.1.
// The test process is a cluster member with the role `autoscaler`: it hosts the autoscaler
// singleton, whose LocalProcessScaler starts and stops the scaled members (test/support/
// autoscale-node.ts, role `worker`: sharded in-memory counters whose handler stands for a user
// function taking 30 ms). One worker first; a load generator keeps 8 commands in flight, spread
// over the ready workers, past the target user-function concurrency of 2; the autoscaler starts
// a second worker, which joins and takes shards while the load goes on; when the load stops the
// autoscaler scales back to one (SIGTERM: a graceful leave, shards hand off back), and every
// request, before, during and after, succeeded. Settings are shrunk to seconds so it all takes
// well under a minute: windows of 1–2 s, stable periods of 10 s up and 2 s down.
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import { LocalProcessScaler, startAutoscaling } from '../../src/autoscale/index.js';
import type { AutoscalerSettings, LocalNode } from '../../src/autoscale/index.js';
import { Cluster } from '../../src/cluster/index.js';
import { shardOf } from '../../src/sharding/index.js';

const script = join(import.meta.dirname, '..', 'support', 'autoscale-node.ts');
const settings: Partial<AutoscalerSettings> = {
  targetUserFunctionConcurrency: 2,
  targetConcurrencyWindowMs: 2_000,
  requestRateWindowMs: 1_000,
  scaleUpStableDeadlineMs: 10_000,
  scaleDownStableDeadlineMs: 2_000,
  tickPeriodMs: 250,
  reportIntervalMs: 250,
  maxMembers: 2,
};
const IN_FLIGHT = 8;
const ENTITIES = 40;

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };
interface Worker {
  node: LocalNode;
  ready: Promise<void>;
  isReady: boolean;
  pending: Map<string, (o: Outcome) => void>;
  log: string;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, diagnose: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${diagnose()}`);
    await delay(100);
  }
}

// The autoscaler's log, to check the decision lines.
const logLines: { msg: string; [k: string]: unknown }[] = [];
const logger = pino({ level: 'info' }, { write: (s: string) => void logLines.push(JSON.parse(s)) });

// Patient failure detection, as in the node script: a stall under CPU contention is no failure here.
const cluster = await Cluster.start({ preset: 'local', config: { probeIntervalMs: 500, probeTimeoutMs: 200, suspicionMult: 20 }, stableAfterMs: 600_000, roles: ['autoscaler'] });
t.teardown(() => cluster.shutdown());
const scaler = new LocalProcessScaler({
  command: process.execPath,
  args: ['--import', 'tsx', script, cluster.address],
  env: { AUTOSCALE_SETTINGS: JSON.stringify(settings), AUTOSCALE_WORK_MS: '30' },
  stdio: ['pipe', 'pipe', 'pipe'],
  stopTimeoutMs: 20_000,
});
t.teardown(() => scaler.stopAll());
// If this process ends first (a timeout), no worker outlives it: a stuck one would spin on.
process.on('exit', () => {
  for (const n of scaler.nodes) if (n.process.exitCode === null) n.process.kill('SIGKILL');
});

const workers = new Map<number, Worker>();
scaler.on('started', (node) => {
  const w: Worker = { node, ready: Promise.resolve(), isReady: false, pending: new Map(), log: '' };
  node.process.stdin!.on('error', () => undefined);
  node.process.stderr!.on('data', (c: Buffer) => (w.log = (w.log + c.toString()).slice(-20_000)));
  w.ready = new Promise((resolve) => {
    let buffered = '';
    node.process.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [verb, a = '', b = '', ...rest] = line.split(' ');
        if (verb === 'ready') {
          w.isReady = true;
          resolve();
        } else if (verb === 'reply') {
          const settle = w.pending.get(a);
          w.pending.delete(a);
          settle?.(b === 'ok' ? { ok: true, value: JSON.parse(rest.join(' ')) } : { ok: false, code: rest[0] ?? '?' });
        }
      }
    });
  });
  node.process.once('exit', () => {
    for (const settle of w.pending.values()) settle({ ok: false, code: 'EXITED' });
  });
  workers.set(node.index, w);
});

let reqs = 0;
function request(w: Worker, line: (id: string) => string): Promise<Outcome> {
  const id = String(++reqs);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      w.pending.delete(id);
      resolve({ ok: false, code: 'TEST_TIMEOUT' });
    }, 15_000);
    w.pending.set(id, (o) => {
      clearTimeout(timer);
      resolve(o);
    });
    w.node.process.stdin!.write(`${line(id)}\n`);
  });
}
const hostedBy = async (w: Worker): Promise<string[]> => {
  const o = await request(w, (id) => `state ${id}`);
  return o.ok ? (o.value as { shards: string[] }).shards : [];
};
const shardsOf = async (w: Worker) => (await hostedBy(w)).length;
const live = () => [...workers.values()].filter((w) => w.isReady && !w.node.stopping && w.node.process.exitCode === null);
const logs = () => [...workers.values()].map((w) => `--- worker ${w.node.index}:\n${w.log.slice(-4000)}`).join('\n') + `\n--- autoscaler:\n${logLines.map((l) => l.msg).join('\n')}`;

const registry = new Registry();

t.test('scales up under load, the new node takes shards, scales down when the load stops, no request fails', async (t) => {
  // The first worker before the autoscaler, which would otherwise see no worker and ask for one.
  await scaler.scale(1);
  const first = workers.get(1)!;
  await first.ready;
  const autoscaling = startAutoscaling(cluster, { role: 'worker', singletonRole: 'autoscaler', scaler: () => scaler, settings, registry, logger });
  t.teardown(() => autoscaling.stop());
  await until('the first worker answers', async () => (await request(first, (id) => `ask ${id} warmup`)).ok, 20_000, logs);

  // Load: IN_FLIGHT loops, each sending one command at a time to the next ready worker.
  const failures: string[] = [];
  let done = 0;
  let loadOn = true;
  let turn = 0;
  const loop = async (k: number) => {
    for (let i = 0; loadOn; i++) {
      const targets = live();
      const w = targets[turn++ % targets.length]!;
      const o = await request(w, (id) => `ask ${id} e${(k * 7 + i) % ENTITIES}`);
      if (o.ok) done++;
      else failures.push(`worker ${w.node.index}: ${o.code}`);
    }
  };
  const loops = Array.from({ length: IN_FLIGHT }, (_, k) => loop(k));
  const t0 = Date.now();

  await until('a second worker is started', () => workers.has(2), 25_000, logs);
  const second = workers.get(2)!;
  t.pass(`scale-up asked for after ${Date.now() - t0} ms of load`);
  await second.ready;
  await until('the second worker takes shards', async () => (await shardsOf(second)) > 0, 20_000, logs);
  const taken = await hostedBy(second);
  t.ok(taken.length > 0, `it hosts ${taken.length} shards: ${taken.join(' ')}`);
  const servedBefore = done;
  await delay(2_000); // the load goes on through both nodes
  t.ok(done > servedBefore, `${done - servedBefore} more commands served by the two-node cluster`);
  loadOn = false;
  await Promise.all(loops);
  if (!t.same(failures, [], `${done} commands under load, none failed`)) t.comment(logs());

  await until('the second worker is stopped (scale-down)', () => second.node.stopping, 25_000, logs);
  await second.node.exited;
  t.equal(second.node.process.exitCode, 0, 'it left gracefully (exit 0 after SIGTERM)');
  const after = await Promise.all(Array.from({ length: ENTITIES }, (_, e) => request(first, (id) => `ask ${id} e${e}`)));
  t.same(after.filter((o) => !o.ok), [], 'every entity answers on the remaining node');
  const used = new Set(['warmup', ...Array.from({ length: ENTITIES }, (_, e) => `e${e}`)].map((id) => shardOf(id, 20)));
  const back = new Set(await hostedBy(first));
  t.same([...used].filter((s) => !back.has(s)), [], `the remaining node hosts every shard in use again (${back.size}), those the second node had included`);
  t.ok(taken.every((s) => back.has(s)), 'the shards handed back');
  t.equal(scaler.nodes.length, 1, 'one worker left');

  const decisions = logLines.filter((l) => l.decision).map((l) => l.msg);
  t.match(decisions[0], /^scaling up from 1 to 2: user-function concurrency [\d.]+ per node exceeds target 2$/, 'the scale-up line');
  t.match(decisions.at(-1), /^scaling down from 2 to 1: /, 'the scale-down line');
  t.equal(decisions.length, 2, `two decisions: ${decisions.join(' | ')}`);
  const counted = (await registry.getSingleMetric('cloudstate_autoscaler_decisions_total')?.get())?.values ?? [];
  t.same(counted.map((v) => `${v.labels.direction}:${v.value}`).sort(), ['down:1', 'up:1'], 'the decisions metric');
});
