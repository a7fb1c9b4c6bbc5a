// The autoscaler against a model of a cluster, on virtual time (no real sleeps): load rises,
// holds, falls; the member count follows without running away and without flapping.
//
// The model. Each node serves up to 100 requests/s; requests are spread evenly over the up
// members; user-function concurrency per node is that of a single queue, ρ/(1−ρ) with ρ the
// node's utilisation (so the target of 1 means 50% busy). A node asked for joins 20 s later
// (start, join), then warms up for 60 s, serving 40% of its capacity at first, growing to all of
// it; for 30 s after any member joins or leaves, every node loses a quarter of its capacity
// (shards rebalancing). That is the feedback loop of the Cloudstate design: new nodes make
// concurrency worse at first. Each node reports every second, the autoscaler ticks every 2 s
// with the reference's defaults.
//
// Two controls show that the model has the problems the rules are there for: with no stable
// periods the same rise makes the autoscaler run away; with the reference's scale-down rule
// (scaleDownTargetFactor 1) a steady load near a boundary makes the cluster flap.
import t from 'tap';
import { Autoscaler } from '../../src/autoscale/autoscaler.js';
import { resolveSettings } from '../../src/autoscale/settings.js';
import type { AutoscalerSettings } from '../../src/autoscale/settings.js';
import { ManualScheduler } from '../../src/core/index.js';

const CAPACITY = 100;
const JOIN_MS = 20_000;
const WARMUP_MS = 60_000;
const REBALANCE_MS = 30_000;

interface SimNode {
  id: string;
  upAt: number;
  leftAt?: number;
}

interface Trace {
  /** Members up, each second. */
  members: number[];
  /** Average user-function concurrency per node, each second. */
  concurrency: number[];
  /** `+n` / `-n` per decision, with the second it was taken. */
  decisions: { at: number; from: number; to: number }[];
}

function simulate(rate: (second: number) => number, seconds: number, overrides: Partial<AutoscalerSettings> = {}, startMembers = 1): Trace {
  const clock = new ManualScheduler(0);
  const settings = resolveSettings({ ...overrides, maxMembers: 100 });
  const nodes: SimNode[] = [];
  let counter = 0;
  let lastChange = -Infinity;
  const add = (upAt: number) => nodes.push({ id: `n${++counter}`, upAt });
  for (let i = 0; i < startMembers; i++) add(-10 * 60_000); // warm already
  const now = () => clock.monotonic();
  const upNodes = () => nodes.filter((n) => n.upAt <= now() && n.leftAt === undefined);
  const asked = () => nodes.filter((n) => n.leftAt === undefined);
  const trace: Trace = { members: [], concurrency: [], decisions: [] };
  const scaler = {
    async scale(members: number) {
      const current = asked();
      trace.decisions.push({ at: Math.round(now() / 1000), from: upNodes().length, to: members });
      for (let i = current.length; i < members; i++) add(now() + JOIN_MS);
      // The newest leave first (graceful: they are gone from the membership at once).
      for (const n of current.slice(members).reverse()) {
        n.leftAt = now();
        lastChange = now();
      }
    },
  };
  const autoscaler = new Autoscaler({ settings, scaler, members: () => upNodes().map((n) => n.id), clock, scheduler: clock });
  const run = async () => {
    for (let s = 0; s < seconds; s++) {
      await clock.advanceAsync(1000, { microtaskTurns: 20 });
      const t = now();
      for (const n of nodes) if (n.upAt > t - 1000 && n.upAt <= t) lastChange = n.upAt;
      const up = upNodes();
      const perNode = rate(s) / Math.max(1, up.length);
      let sum = 0;
      for (const n of up) {
        const warm = Math.min(1, 0.4 + (0.6 * (t - n.upAt)) / WARMUP_MS);
        const capacity = CAPACITY * warm * (t - lastChange < REBALANCE_MS ? 0.75 : 1);
        const rho = Math.min(perNode / capacity, 0.98);
        const uf = rho / (1 - rho);
        sum += uf;
        const report = { intervalMs: 1000, userFunctionConcurrency: uf, requestConcurrency: uf + perNode * 0.002, databaseConcurrency: 0, requestCount: perNode, requestsEnded: perNode, requestTimeMs: 0 };
        autoscaler.receive({ type: 'report', report }, n.id);
      }
      trace.members.push(up.length);
      trace.concurrency.push(up.length ? sum / up.length : 0);
    }
  };
  return Object.assign(trace, { done: run().finally(() => autoscaler.stop()) });
}

const run = async (rate: (s: number) => number, seconds: number, overrides?: Partial<AutoscalerSettings>, start?: number) => {
  const trace = simulate(rate, seconds, overrides, start) as Trace & { done: Promise<void> };
  await trace.done;
  return trace;
};

/** How often the direction of the decisions changes (up then down is one change). */
const turns = (trace: Trace) => {
  const dirs = trace.decisions.filter((d) => d.to !== d.from).map((d) => Math.sign(d.to - d.from));
  return dirs.slice(1).filter((d, i) => d !== dirs[i]).length;
};

const MIN = 60;
/** 30/s for 5 min, up to 400/s over 5 min, 15 min at 400/s, down to 30/s over 5 min, 15 min at 30/s. */
const riseAndFall = (s: number) => {
  const ramp = (from: number, to: number, start: number, len: number) => from + ((to - from) * (s - start)) / len;
  if (s < 5 * MIN) return 30;
  if (s < 10 * MIN) return ramp(30, 400, 5 * MIN, 5 * MIN);
  if (s < 25 * MIN) return 400;
  if (s < 30 * MIN) return ramp(400, 30, 25 * MIN, 5 * MIN);
  return 30;
};

t.test('load rises and falls: the member count follows, no runaway, no flapping', async (t) => {
  const trace = await run(riseAndFall, 45 * MIN);
  const at = (minute: number) => trace.members[minute * MIN - 1]!;
  const peak = Math.max(...trace.members);
  t.comment(`members at 5/10/15/20/25/30/35/45 min: ${[5, 10, 15, 20, 25, 30, 35, 45].map(at).join(' ')}, peak ${peak}`);
  t.comment(`decisions: ${trace.decisions.map((d) => `${d.at}s ${d.from}→${d.to}`).join(', ')}`);
  t.equal(at(5), 1, '30/s: one node');
  t.ok(at(25) >= 8 && at(25) <= 12, `400/s needs 8 nodes at the target: ${at(25)} at the end of the plateau`);
  t.ok(peak <= 12, `no runaway: at most ${peak} members`);
  const plateau = trace.concurrency.slice(20 * MIN, 25 * MIN);
  t.ok(Math.max(...plateau) <= 1, `the plateau is served at the target (user-function concurrency ≤ ${Math.max(...plateau).toFixed(2)})`);
  t.equal(at(45), 1, 'back to one node');
  t.equal(turns(trace), 1, 'up, then down: the direction changes once');
});

t.test('control: without stable periods the feedback loop runs away', async (t) => {
  const trace = await run(riseAndFall, 15 * MIN, { scaleUpStableDeadlineMs: 0, scaleDownStableDeadlineMs: 0 });
  const peak = Math.max(...trace.members);
  t.comment(`peak ${peak} members with no stable periods`);
  t.ok(peak >= 14, `the same rise brings ${peak} members up, where 8 serve it`);
});

t.test('a steady load near a boundary: the count settles; the reference rule flaps', async (t) => {
  const steady = () => 110; // 3 nodes: 37% busy each, concurrency 0.58; 2 nodes: 55%, 1.22
  const ours = await run(steady, 40 * MIN, {}, 3);
  t.same(ours.decisions, [], '3 nodes hold 110/s under the target; too little spare to remove one');
  const reference = await run(steady, 40 * MIN, { scaleDownTargetFactor: 1 }, 3);
  t.comment(`reference rule: ${reference.decisions.map((d) => `${d.at}s ${d.from}→${d.to}`).join(', ')}`);
  t.ok(turns(reference) >= 4, `with factor 1 the count flaps (${turns(reference)} changes of direction in 40 min)`);
  const rising = await run((s) => (s < 10 * MIN ? 110 : 220), 40 * MIN, {}, 3);
  t.ok(rising.members.at(-1)! >= 5 && turns(rising) === 0, `a step to 220/s: up to ${rising.members.at(-1)}, never down`);
});
