// The CRDT laws, as fast-check properties, for every type: merge is commutative, associative
// and idempotent; a replica fed only deltas (causally delivered, in any order a causal order
// allows) ends in the same state as one fed full states; pruning a removed node keeps the
// value (Vote: drops that node's vote) and data cleaned after the prune merges without
// bringing the removed node back.
import fc from 'fast-check';
import t from 'tap';
import { Flag, GCounter, GSet, LWWRegister, ORMap, ORSet, PNCounter, Vote, crdtEquals, crdtToText, decodeCrdt, encodeCrdt } from '../../../src/crdt/index.js';
import type { AnyCrdt, LWWClock } from '../../../src/crdt/index.js';

const NODES = ['A', 'B', 'C'];
const RUNS = Number(process.env.CRDT_PROPERTY_RUNS ?? 150);

/** An operation a replica runs on its own state, as its own node. */
type Op = (s: AnyCrdt, node: string) => AnyCrdt;

interface TypeSpec {
  name: string;
  empty: AnyCrdt;
  op: fc.Arbitrary<Op>;
  value: (s: AnyCrdt) => unknown;
}

const elem = fc.constantFrom('a', 'b', 'c', 'd');
const clocks: LWWClock[] = ['default', 'reverse', 'custom', 'custom-auto-increment'];

const specs: TypeSpec[] = [
  { name: 'GCounter', empty: GCounter.empty, op: fc.integer({ min: 0, max: 5 }).map((n): Op => (s, node) => (s as GCounter).increment(node, n)), value: (s) => (s as GCounter).value },
  { name: 'PNCounter', empty: PNCounter.empty, op: fc.integer({ min: -5, max: 5 }).map((n): Op => (s, node) => (s as PNCounter).increment(node, n)), value: (s) => (s as PNCounter).value },
  { name: 'GSet', empty: GSet.empty, op: elem.map((e): Op => (s) => (s as GSet).add(e)), value: (s) => [...(s as GSet).elements].sort() },
  {
    name: 'ORSet',
    empty: ORSet.empty,
    op: fc.oneof(
      { weight: 5, arbitrary: elem.map((e): Op => (s, node) => (s as ORSet).add(node, e)) },
      { weight: 4, arbitrary: elem.map((e): Op => (s) => (s as ORSet).remove(e)) },
      { weight: 1, arbitrary: fc.constant<Op>((s) => (s as ORSet).clear()) },
    ),
    value: (s) => [...(s as ORSet).elements].sort(),
  },
  {
    name: 'LWWRegister',
    empty: LWWRegister.empty,
    op: fc.tuple(elem, fc.integer({ min: 0, max: 4 }), fc.constantFrom(...clocks), fc.integer({ min: -3, max: 3 })).map(([v, now, clock, custom]): Op => (s, node) => (s as LWWRegister).set(node, v, now, clock, custom)),
    value: (s) => (s as LWWRegister).value,
  },
  { name: 'Flag', empty: Flag.empty, op: fc.constant<Op>((s) => (s as Flag).switchOn()), value: (s) => (s as Flag).value },
  {
    name: 'ORMap',
    empty: ORMap.empty(),
    op: fc.oneof(
      { weight: 5, arbitrary: fc.tuple(elem, fc.integer({ min: -3, max: 3 })).map(([k, n]): Op => (s, node) => (s as ORMap<PNCounter>).update(node, k, PNCounter.empty, (c) => c.increment(node, n))) },
      { weight: 3, arbitrary: elem.map((k): Op => (s) => (s as ORMap<PNCounter>).remove(k)) },
      { weight: 1, arbitrary: fc.constant<Op>((s) => (s as ORMap<PNCounter>).clear()) },
    ),
    value: (s) => [...(s as ORMap<PNCounter>).toMap()].map(([k, v]) => [k, v.value]).sort(),
  },
  { name: 'Vote', empty: Vote.empty, op: fc.boolean().map((b): Op => (s, node) => (s as Vote).vote(node, b)), value: (s) => [(s as Vote).votesFor, (s as Vote).totalVoters] },
];

/** One step of a history: replica `r` runs an op, or replica `from` syncs into replica `to`. */
type Step = { kind: 'op'; r: number; op: Op } | { kind: 'sync'; from: number; to: number };

const history = (spec: TypeSpec) =>
  fc.array(
    fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('op' as const), r: fc.integer({ min: 0, max: 2 }), op: spec.op }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('sync' as const), from: fc.integer({ min: 0, max: 2 }), to: fc.integer({ min: 0, max: 2 }) }) },
    ),
    { maxLength: 25 },
  );

interface Delta {
  id: number;
  delta: AnyCrdt;
  deps: Set<number>;
}

/**
 * Runs a history twice: replicas exchanging full states, and replicas exchanging only deltas
 * (a sync delivers the deltas the sender has applied and the receiver lacks, in the sender's
 * order: a causal order). Returns the full-state replicas, the delta replicas and every delta.
 */
function play(spec: TypeSpec, steps: Step[]) {
  const full = NODES.map(() => spec.empty);
  const viaDelta = NODES.map(() => spec.empty);
  const logs: number[][] = NODES.map(() => []);
  const deltas: Delta[] = [];
  for (const step of steps) {
    if (step.kind === 'op') {
      const node = NODES[step.r]!;
      full[step.r] = step.op(full[step.r]!, node).resetDelta();
      const next = step.op(viaDelta[step.r]!, node);
      if (next.delta !== undefined) {
        const d = { id: deltas.length, delta: next.delta, deps: new Set(logs[step.r]) };
        deltas.push(d);
        logs[step.r]!.push(d.id);
      }
      viaDelta[step.r] = next.resetDelta();
    } else {
      full[step.to] = full[step.to]!.merge(full[step.from]!);
      const have = new Set(logs[step.to]);
      for (const id of logs[step.from]!) {
        if (have.has(id)) continue;
        viaDelta[step.to] = viaDelta[step.to]!.mergeDelta(deltas[id]!.delta);
        logs[step.to]!.push(id);
      }
    }
  }
  return { full, viaDelta, deltas };
}

for (const spec of specs) {
  t.test(spec.name, async (t) => {
    const states = history(spec).map((steps) => play(spec, steps).full);

    t.doesNotThrow(() =>
      fc.assert(
        fc.property(states, (s) => {
          const [a, b, c] = s as [AnyCrdt, AnyCrdt, AnyCrdt];
          return crdtEquals(a.merge(b), b.merge(a)) && crdtEquals(a.merge(b).merge(c), a.merge(b.merge(c))) && crdtEquals(a.merge(a), a) && crdtEquals(a.merge(spec.empty), a);
        }),
        { numRuns: RUNS },
      ),
    'merge is commutative, associative and idempotent, with the empty state as identity');

    t.doesNotThrow(() =>
      fc.assert(
        fc.property(history(spec), fc.integer(), (steps, seed) => {
          const { full, viaDelta, deltas } = play(spec, steps);
          for (let r = 0; r < NODES.length; r++) if (!crdtEquals(full[r]!, viaDelta[r]!)) throw new Error(`replica ${r}: ${crdtToText(full[r]!)} vs via deltas ${crdtToText(viaDelta[r]!)}`);
          // Every delta, in a random order that respects causality, into a fresh replica.
          const applied = new Set<number>();
          let s = spec.empty;
          let rnd = seed >>> 0;
          while (applied.size < deltas.length) {
            const ready = deltas.filter((d) => !applied.has(d.id) && [...d.deps].every((x) => applied.has(x)));
            rnd = (Math.imul(rnd, 1664525) + 1013904223) >>> 0;
            const d = ready[rnd % ready.length]!;
            s = s.mergeDelta(d.delta);
            applied.add(d.id);
          }
          const all = full.reduce((x, y) => x.merge(y));
          if (!crdtEquals(s, all)) throw new Error(`all deltas ${crdtToText(s)} vs all states ${crdtToText(all)}`);
          // A delta group (deltas joined first) is a delta too.
          const group = deltas.reduce<AnyCrdt | undefined>((g, d) => (g ? g.merge(d.delta) : d.delta), undefined);
          return group === undefined || crdtEquals(spec.empty.mergeDelta(group), all);
        }),
        { numRuns: RUNS },
      ),
    'deltas applied in any causal order give the state that merging full states gives');

    t.doesNotThrow(() =>
      fc.assert(
        fc.property(history(spec), (steps) => {
          const { full } = play(spec, steps);
          const all = full.reduce((x, y) => x.merge(y));
          const pruned = all.prune('B', 'A');
          if (pruned.needPruningFrom('B')) throw new Error('B still there after the prune');
          const expected = spec.name === 'Vote' ? (all as Vote).pruningCleanup('B') : all;
          if (JSON.stringify(spec.value(pruned)) !== JSON.stringify(spec.value(expected))) throw new Error(`value ${JSON.stringify(spec.value(all))} became ${JSON.stringify(spec.value(pruned))}`);
          // Another replica's older copy, cleaned of B, merges in without changing the value or bringing B back.
          const later = full[2]!.pruningCleanup('B').merge(pruned);
          if (later.needPruningFrom('B')) throw new Error('B came back');
          return JSON.stringify(spec.value(later)) === JSON.stringify(spec.value(pruned)) && crdtEquals(pruned.merge(full[2]!.pruningCleanup('B')), later);
        }),
        { numRuns: RUNS },
      ),
    'pruning a removed node keeps the value, and cleaned copies merge without bringing it back');

    t.doesNotThrow(() =>
      fc.assert(
        fc.property(states, (s) => s.every((x) => crdtEquals(decodeCrdt(encodeCrdt(x)), x) && crdtToText(decodeCrdt(encodeCrdt(x))) === crdtToText(x))),
        { numRuns: 50 },
      ),
    'the codec round-trips every state');
  });
}

t.test('values and clocks', async (t) => {
  const s = ORSet.empty.add('A', 'x').add('B', 'y').remove('x');
  t.same([...s.elements], ['y']);
  const concurrentAdd = ORSet.empty.add('A', 'x');
  const removed = concurrentAdd.remove('x');
  t.ok(removed.merge(concurrentAdd.resetDelta().add('B', 'x')).has('x'), 'ORSet: an add concurrent with a remove wins');

  const r0 = LWWRegister.empty.set('A', 'first', 100);
  t.equal(r0.merge(LWWRegister.empty.set('B', 'second', 200)).value, 'second', 'default clock: the later write wins');
  t.equal(r0.set('A', 'again', 50).timestamp, 101, 'default clock: past the current timestamp even when the wall clock lags');
  const rev = LWWRegister.empty.set('A', 'first', 100, 'reverse');
  t.equal(rev.merge(LWWRegister.empty.set('B', 'second', 200, 'reverse')).value, 'first', 'reverse clock: the first write wins');
  t.equal(LWWRegister.empty.set('A', 'x', 0, 'custom', 7).timestamp, 7, 'custom clock: the given value');
  t.equal(LWWRegister.empty.set('A', 'x', 0, 'custom', 7).set('A', 'y', 0, 'custom-auto-increment', 3).timestamp, 8, 'custom auto-increment: past the current one');
  t.equal(LWWRegister.empty.set('B', 'b', 0, 'custom', 5).merge(LWWRegister.empty.set('A', 'a', 0, 'custom', 5)).value, 'a', 'equal timestamps: the smaller node id wins');
  t.throws(() => LWWRegister.empty.set('A', 'x', 0, 'custom'), /custom clock value/);

  const v = Vote.empty.vote('A', true).merge(Vote.empty.vote('B', false)).merge(Vote.empty.vote('C', true));
  t.same([v.votesFor, v.totalVoters], [2, 3], 'Vote: votes for and total voters');
  t.same([v.vote('A', false).votesFor, v.prune('C').votesFor, v.prune('C').totalVoters], [1, 1, 2]);
  t.same(v.tally(['A', 'B', 'D']), { votesFor: 1, totalVoters: 3 }, 'Vote: tallied over the given members (D has not voted: a voter against)');

  const m = ORMap.empty<PNCounter>().update('A', 'k', PNCounter.empty, (c) => c.increment('A', 5));
  const removedK = m.remove('k');
  const updatedElsewhere = m.resetDelta().update('B', 'k', PNCounter.empty, (c) => c.increment('B', 2));
  t.equal(removedK.merge(updatedElsewhere).get('k')?.value, 7, 'ORMap: an update concurrent with a remove wins, with the whole value');
  t.equal(removedK.update('A', 'k', PNCounter.empty, (c) => c.increment('A', 1)).get('k')?.value, 1, 'ORMap: a key removed and added again starts afresh');
  const mixed = ORMap.empty().update('A', 'k', GCounter.empty, (c) => (c as GCounter).increment('A', 1)).merge(ORMap.empty().update('B', 'k', Flag.empty, (f) => (f as Flag).switchOn()));
  t.equal(mixed.get('k')?.kind, 'gcounter', 'ORMap: values of different types under one key do not break the merge (the first write in dot order counts)');
  t.throws(() => GCounter.empty.increment('A', -1), /non-negative/);
  t.equal(Flag.empty.switchOn().merge(Flag.empty).value, true);
  t.equal(GCounter.empty.increment('A', 3).prune('A', 'B').value, 3);
});
