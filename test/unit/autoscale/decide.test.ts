// The autoscaler's decision function: a table of scenarios from the stable state, the stable
// periods after scaling up and down, upgrades; the feedback loop the Cloudstate design warns of
// (new nodes slow things down at first, concurrency rises: no runaway); and, as a property,
// that a constant load never makes the member count change direction.
import fc from 'fast-check';
import t from 'tap';
import { cap, decide, nodesFor, stableState } from '../../../src/autoscale/decide.js';
import type { AutoscalerState, DecideOutcome } from '../../../src/autoscale/decide.js';
import type { ClusterLoad } from '../../../src/autoscale/load.js';
import { resolveSettings } from '../../../src/autoscale/settings.js';
import type { AutoscalerSettings } from '../../../src/autoscale/settings.js';

const defaults = resolveSettings();
const NOW = 1_000_000;

const load = (l: Partial<ClusterLoad>): ClusterLoad => ({
  members: 1,
  requestConcurrency: 0,
  userFunctionConcurrency: 0,
  databaseConcurrency: 0,
  requestRate: 0,
  requestLatencyMs: 0,
  upgrading: false,
  ...l,
});

/** What a case expects: no decision, or direction from → to with a reason. */
type Expect = null | [direction: 'up' | 'down', from: number, to: number, reason: string];

const summary = (o: DecideOutcome) => (o.decision ? [o.decision.direction, o.decision.from, o.decision.to, o.decision.reason] : null);

t.test('from the stable state', async (t) => {
  const cases: [string, Partial<ClusterLoad>, Expect, Partial<AutoscalerSettings>?][] = [
    ['at the targets: nothing', { members: 2, userFunctionConcurrency: 1, requestConcurrency: 10 }, null],
    ['no load on one node: nothing', { members: 1 }, null],
    ['user function over target: up to ⌈1.5⌉', { members: 1, userFunctionConcurrency: 1.5 }, ['up', 1, 2, 'user-function-concurrency']],
    ['far over: capped by maxScale (2 per decision)', { members: 2, userFunctionConcurrency: 5 }, ['up', 2, 4, 'user-function-concurrency']],
    ['maxScaleFactor 0.5, no maxScale: at most half the members', { members: 10, userFunctionConcurrency: 3 }, ['up', 10, 15, 'user-function-concurrency'], { maxScaleFactor: 0.5, maxScale: 0 }],
    ['maxScaleFactor on one node: at least one', { members: 1, userFunctionConcurrency: 3 }, ['up', 1, 2, 'user-function-concurrency'], { maxScaleFactor: 0.5, maxScale: 0 }],
    ['capped by maxMembers', { members: 3, userFunctionConcurrency: 4 }, ['up', 3, 4, 'user-function-concurrency'], { maxMembers: 4 }],
    ['already at maxMembers: nothing', { members: 4, userFunctionConcurrency: 4 }, null, { maxMembers: 4 }],
    ['request concurrency over target', { members: 2, userFunctionConcurrency: 0.5, requestConcurrency: 80 }, ['up', 2, 4, 'request-concurrency']],
    ['database concurrency is not counted', { members: 2, userFunctionConcurrency: 0.5, requestConcurrency: 80, databaseConcurrency: 40 }, null],
    ['both fit in fewer nodes: down (2 per decision)', { members: 4, userFunctionConcurrency: 0.2, requestConcurrency: 5 }, ['down', 4, 2, 'capacity-to-spare']],
    ['idle: down by at most maxScale', { members: 10 }, ['down', 10, 8, 'capacity-to-spare']],
    ['fits in fewer nodes at the target, not at 0.6 × target: nothing', { members: 2, userFunctionConcurrency: 0.45 }, null],
    ['the same with the reference rule (factor 1): down', { members: 2, userFunctionConcurrency: 0.45 }, ['down', 2, 1, 'capacity-to-spare'], { scaleDownTargetFactor: 1 }],
    ['fits at 0.6 × target: down', { members: 2, userFunctionConcurrency: 0.3 }, ['down', 2, 1, 'capacity-to-spare']],
    ['user function fits, requests do not: nothing', { members: 4, userFunctionConcurrency: 0.2, requestConcurrency: 40 }, null],
    ['requests fit, user function does not: nothing', { members: 4, userFunctionConcurrency: 0.9, requestConcurrency: 1 }, null],
    ['idle: not below minMembers', { members: 3 }, ['down', 3, 2, 'capacity-to-spare'], { minMembers: 2 }],
    ['idle at minMembers: nothing', { members: 2 }, null, { minMembers: 2 }],
    ['no members: up to minMembers', { members: 0 }, ['up', 0, 1, 'member-bounds']],
    ['over maxMembers (lowered): down to it', { members: 6 }, ['down', 6, 5, 'member-bounds'], { maxMembers: 5 }],
    ['upgrading: no concurrency decision', { members: 2, userFunctionConcurrency: 9, upgrading: true }, null],
  ];
  for (const [name, l, expected, overrides] of cases) {
    const out = decide(stableState, load(l), NOW, resolveSettings(overrides));
    t.same(summary(out), expected, name);
    if (out.decision?.reason === 'member-bounds') t.match(out.state, { desired: out.decision.to, deadline: NOW + 30_000 }, `${name}: only the short stable period`);
    else if (out.decision?.direction === 'up') t.match(out.state, { kind: 'scaling-up', desired: out.decision.to, deadline: NOW + 180_000 }, `${name}: stable period of 3 min`);
    if (out.decision?.direction === 'down') t.match(out.state, { kind: 'scaling-down', desired: out.decision.to, deadline: NOW + 30_000 }, `${name}: stable period of 30 s`);
    if (!out.decision && !l.upgrading) t.equal(out.state.kind, 'stable', `${name}: stays stable`);
  }
  const up = decide(stableState, load({ members: 1, userFunctionConcurrency: 2, requestRate: 120 }), NOW, defaults);
  t.match(up.state, { anchorDesired: 2, anchorRate: 120 }, 'the rate at the decision is remembered');
  t.match(up.decision?.message, /user-function concurrency 2 per node exceeds target 1/, 'the message says why');
  const upgrading = decide(stableState, load({ members: 3, requestRate: 90, upgrading: true }), NOW, defaults);
  t.same(upgrading.state, { kind: 'upgrading', desired: 3, anchorDesired: 3, anchorRate: 90 }, 'an upgrade: scale on rate from here');
  t.match(upgrading.note, /upgrade/);
});

t.test('the stable period after scaling up', async (t) => {
  const state: AutoscalerState = { kind: 'scaling-up', desired: 2, deadline: NOW + 180_000, anchorDesired: 2, anchorRate: 100 };
  const cases: [string, Partial<ClusterLoad>, Expect][] = [
    ['concurrency spikes while nodes warm up: nothing', { members: 2, userFunctionConcurrency: 6, requestConcurrency: 300, requestRate: 100 }, null],
    ['rate ×1.4: nothing', { members: 2, userFunctionConcurrency: 3, requestRate: 140 }, null],
    ['rate ×1.6 and over target: more nodes in proportion', { members: 2, userFunctionConcurrency: 3, requestRate: 160 }, ['up', 2, 4, 'request-rate']],
    ['rate ×1.6 but under target: nothing', { members: 2, userFunctionConcurrency: 0.5, requestRate: 160 }, null],
    ['rate ×4: capped by maxScale from the desired count', { members: 1, userFunctionConcurrency: 3, requestRate: 400 }, ['up', 2, 4, 'request-rate']],
  ];
  for (const [name, l, expected] of cases) t.same(summary(decide(state, load(l), NOW + 10_000, defaults)), expected, name);
  const more = decide(state, load({ members: 2, userFunctionConcurrency: 3, requestRate: 160 }), NOW + 10_000, defaults);
  t.same(more.state, { kind: 'scaling-up', desired: 4, deadline: NOW + 190_000, anchorDesired: 4, anchorRate: 160 }, 'the new rate is the next reference; the period starts again');
  const again = decide(more.state, load({ members: 3, userFunctionConcurrency: 3, requestRate: 200 }), NOW + 12_000, defaults);
  t.equal(again.decision, undefined, 'a further rise under 1.5× the new reference: nothing');
  const over = decide(state, load({ members: 2, userFunctionConcurrency: 6 }), NOW + 180_000, defaults);
  t.same(over.state, stableState, 'the deadline passed: stable');
  t.equal(over.expireBefore, NOW + 180_000 - 6_000, 'and the history is cut to the rate window');
  t.equal(over.decision, undefined, 'no decision on the tick that ends the period');
  t.equal(decide({ ...state, anchorRate: 0 }, load({ members: 2, userFunctionConcurrency: 3, requestRate: 50 }), NOW, defaults).decision, undefined, 'no rate at the decision: no rate rule');
});

t.test('the stable period after scaling down, and upgrades', async (t) => {
  const down: AutoscalerState = { kind: 'scaling-down', desired: 2, deadline: NOW + 30_000 };
  t.same(summary(decide(down, load({ members: 2, userFunctionConcurrency: 5, requestRate: 1000 }), NOW + 1000, defaults)), null, 'rebalancing spike after scaling down: nothing, not even on rate');
  t.match(decide(down, load({ members: 2 }), NOW + 30_000, defaults), { state: stableState, expireBefore: NOW + 24_000 }, 'stable again after 30 s');
  const upgrading: AutoscalerState = { kind: 'upgrading', desired: 3, anchorDesired: 3, anchorRate: 100 };
  t.same(summary(decide(upgrading, load({ members: 4, userFunctionConcurrency: 9, requestRate: 120, upgrading: true }), NOW, defaults)), null, 'upgrading: concurrency does not count');
  const more = decide(upgrading, load({ members: 4, userFunctionConcurrency: 0, requestRate: 200, upgrading: true }), NOW, defaults);
  t.same(summary(more), ['up', 3, 5, 'request-rate'], 'upgrading: the rate doubled, up in proportion (capped)');
  t.same(more.state, { kind: 'upgrading', desired: 5, anchorDesired: 5, anchorRate: 200 });
  t.match(decide(upgrading, load({ members: 3 }), NOW, defaults), { state: stableState, note: 'upgrade finished' }, 'upgrade over: stable');
});

t.test('feedback loop: new nodes slow the cluster at first; the autoscaler does not run away', async (t) => {
  // One node at twice its target: scale to 2. The new node joins after 20 s and warms up for a
  // minute, shards rebalancing meanwhile: concurrency per node triples and stays high, at the
  // same request rate. Then the cluster settles at 0.9 per node.
  let state: AutoscalerState = stableState;
  let members = 1;
  const decisions: string[] = [];
  for (let time = 0; time <= 600_000; time += 2_000) {
    if (state.kind === 'scaling-up' && time >= 20_000) members = state.desired;
    const warmingUp = members > 1 && time < 80_000;
    const uf = members === 1 ? 2 : warmingUp ? 6 : 0.9;
    const out = decide(state, load({ members, userFunctionConcurrency: uf, requestConcurrency: uf * 3, requestRate: 200 }), NOW + time, defaults);
    if (out.decision) decisions.push(`${time / 1000}s ${out.decision.from}→${out.decision.to}`);
    state = out.state;
  }
  t.same(decisions, ['0s 1→2'], 'one decision; the spike during warm-up triggers nothing');
  t.same(state, stableState);
});

t.test('helpers', async (t) => {
  t.equal(nodesFor(3.0000000000000004, 1), 3, 'floating-point noise does not add a node');
  t.equal(nodesFor(0, 1), 1, 'at least one');
  t.equal(nodesFor(50.5, 50), 2);
  t.equal(cap(10, 3, resolveSettings({ maxScale: 0 })), 10);
  t.equal(cap(0, 3, resolveSettings({ maxScale: 0 })), 1, 'not below minMembers');
  t.equal(cap(200, 3, resolveSettings({ maxScale: 0 })), 100, 'not above maxMembers');
});

t.test('property: a constant load is met without the member count changing direction', async (t) => {
  // Constant totals, the cluster following each decision at once: the count only goes one
  // way, and ends where nothing more is decided: at least what the targets need, at most what
  // the scale-down rule allows (or unchanged when it started in between).
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 40, noNaN: true }),
      fc.double({ min: 0, max: 3000, noNaN: true }),
      fc.integer({ min: 1, max: 30 }),
      fc.record({ maxScale: fc.integer({ min: 0, max: 5 }), maxScaleFactor: fc.constantFrom(0, 0.25, 1), minMembers: fc.integer({ min: 1, max: 3 }) }),
      (ufTotal, reqTotal, start, overrides) => {
        const s = resolveSettings({ ...overrides, maxMembers: 60 });
        let state: AutoscalerState = stableState;
        let members = start;
        const counts = [members];
        for (let round = 0, time = 0; round < 400; round++, time += 60_000) {
          const out = decide(state, load({ members, userFunctionConcurrency: ufTotal / Math.max(1, members), requestConcurrency: reqTotal / Math.max(1, members) }), time, s);
          state = out.state;
          if (out.decision) counts.push((members = out.decision.to));
        }
        const steps = counts.slice(1).map((c, i) => Math.sign(c - counts[i]!));
        const monotonic = steps.every((d) => d === steps[0]);
        const clamp = (n: number) => Math.min(60, Math.max(s.minMembers, n));
        const up = clamp(Math.max(nodesFor(ufTotal, 1), nodesFor(reqTotal, 50)));
        const down = clamp(Math.max(nodesFor(ufTotal, 0.6), nodesFor(reqTotal, 30)));
        const expected = start < up ? up : start > down ? down : start;
        return monotonic && members === expected;
      },
    ),
    { numRuns: 300, seed: 7 },
  );
  t.pass('300 loads and starting points: monotonic, and ends where the rules say');
});
