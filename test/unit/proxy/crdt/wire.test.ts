import t from 'tap';
import Long from 'long';
import { Flag, GCounter, GSet, LWWRegister, ORMap, ORSet, PNCounter, Vote } from '../../../../src/crdt/index.js';
import type { AnyCrdt } from '../../../../src/crdt/index.js';
import type { Any, CrdtDelta } from '../../../../src/protocol/index.js';
import { IncompatibleDeltaError, anyOf, applyDelta, deltaKind, diffDelta, elementOf, emptyFor, stateAsDelta, voteState } from '../../../../src/proxy/crdt/wire.js';
import type { WireContext } from '../../../../src/proxy/crdt/wire.js';

const ctx = (self = 'A', voters = ['A', 'B', 'C'], now = 1000): WireContext => ({ self, now: () => now, voters: () => voters });
const any = (s: string): Any => ({ type_url: 'type.googleapis.com/t.S', value: new TextEncoder().encode(s) });
const text = (a: Any | null | undefined) => (a ? new TextDecoder().decode(a.value) : undefined);
const apply = (crdt: AnyCrdt, ...deltas: CrdtDelta[]) => deltas.reduce((c, d) => applyDelta(c, d, ctx()).resetDelta(), crdt);
const fresh = (...deltas: CrdtDelta[]) => apply(emptyFor(deltas[0]!), ...deltas);

/** What a user function sees of a state: plain values, elements decoded, sorted. */
function view(c: AnyCrdt): unknown {
  if (c instanceof GCounter || c instanceof PNCounter) return c.value;
  if (c instanceof GSet) return [...c.elements].map((e) => text(anyOf(e))).sort();
  if (c instanceof ORSet) return [...c.elements].map((e) => text(anyOf(e))).sort();
  if (c instanceof LWWRegister) return c.value === undefined ? undefined : text(anyOf(c.value));
  if (c instanceof Flag) return c.enabled;
  if (c instanceof ORMap) return Object.fromEntries([...(c as ORMap).toMap()].map(([k, v]) => [text(anyOf(k)), view(v)]).sort());
  if (c instanceof Vote) return voteState(c, ctx());
  return c;
}

t.test('elements are the canonical encoding of an Any, and back', async (t) => {
  const a = any('x');
  t.same(text(anyOf(elementOf(a))), 'x');
  t.equal(anyOf(elementOf(a)).type_url, a.type_url);
  t.equal(elementOf({ type_url: a.type_url, value: new TextEncoder().encode('x') }), elementOf(a), 'equal bytes, equal elements');
  t.not(elementOf(any('x')), elementOf({ ...any('x'), type_url: 'type.googleapis.com/t.Other' }), 'the type is part of the element');
  t.same(anyOf(elementOf(undefined)), { type_url: '', value: new Uint8Array(0) }, 'an absent Any is the empty Any');
});

t.test('a user function delta applied to each type', async (t) => {
  const cases: [string, CrdtDelta[], unknown][] = [
    ['gcounter', [{ gcounter: { increment: 3 } }, { gcounter: { increment: Long.fromNumber(4, true) } }], 7],
    ['pncounter', [{ pncounter: { change: 5 } }, { pncounter: { change: -8 } }], -3],
    ['gset', [{ gset: { added: [any('a'), any('b')] } }, { gset: { added: [any('a')] } }], ['a', 'b']],
    ['orset', [{ orset: { added: [any('a'), any('b'), any('c')] } }, { orset: { removed: [any('b')] } }], ['a', 'c']],
    ['orset cleared then added', [{ orset: { added: [any('a'), any('b')] } }, { orset: { cleared: true, added: [any('z')] } }], ['z']],
    ['lwwregister', [{ lwwregister: { value: any('one') } }, { lwwregister: { value: any('two') } }], 'two'],
    ['lwwregister reverse clock: the first write wins', [{ lwwregister: { value: any('one'), clock: 1 } }, { lwwregister: { value: any('two'), clock: 1 } }], 'one'],
    ['lwwregister custom clock in the past is ignored', [{ lwwregister: { value: any('one'), clock: 2, custom_clock_value: 10 } }, { lwwregister: { value: any('two'), clock: 2, custom_clock_value: 5 } }], 'one'],
    ['lwwregister custom auto-increment moves past', [{ lwwregister: { value: any('one'), clock: 3, custom_clock_value: 10 } }, { lwwregister: { value: any('two'), clock: 3, custom_clock_value: 5 } }], 'two'],
    ['flag', [{ flag: { value: false } }, { flag: { value: true } }, { flag: { value: true } }], true],
    ['vote', [{ vote: { self_vote: true, votes_for: 99, total_voters: 99 } }], { self_vote: true, votes_for: 1, total_voters: 3 }],
    [
      'ormap nested',
      [
        { ormap: { added: [{ key: any('c'), delta: { gcounter: { increment: 2 } } }, { key: any('s'), delta: { orset: { added: [any('x')] } } }] } },
        { ormap: { updated: [{ key: any('c'), delta: { gcounter: { increment: 3 } } }, { key: any('gone'), delta: { gcounter: { increment: 1 } } }] } },
        { ormap: { added: [{ key: any('m'), delta: { ormap: { added: [{ key: any('f'), delta: { flag: { value: true } } }] } } }], removed: [any('s')] } },
      ],
      { c: 5, m: { f: true } },
    ],
    ['ormap cleared', [{ ormap: { added: [{ key: any('a'), delta: { pncounter: { change: 1 } } }] } }, { ormap: { cleared: true } }], {}],
    ['ormap update of another type is ignored', [{ ormap: { added: [{ key: any('a'), delta: { pncounter: { change: 1 } } }] } }, { ormap: { updated: [{ key: any('a'), delta: { flag: { value: true } } }] } }], { a: 1 }],
  ];
  for (const [name, deltas, expected] of cases) t.same(view(fresh(...deltas)), expected, name);
  t.equal(deltaKind({ ormap: {} }), 'ormap');
  t.equal(deltaKind({}), undefined);
});

t.test('incompatible deltas throw IncompatibleDeltaError', async (t) => {
  const cases: [string, AnyCrdt, CrdtDelta][] = [
    ['a negative GCounter increment (uint64 from a negative int64)', GCounter.empty, { gcounter: { increment: Long.fromNumber(-1).toUnsigned() } }],
    ['switching a Flag off', Flag.on, { flag: { value: false } }],
    ['a PNCounter delta for a GCounter', GCounter.empty, { pncounter: { change: 1 } }],
    ['a GSet delta for an ORSet', ORSet.empty, { gset: { added: [any('a')] } }],
    ['an ORMap entry added without a delta', ORMap.empty(), { ormap: { added: [{ key: any('a') }] } }],
    ['an empty delta', GCounter.empty, {}],
  ];
  for (const [name, crdt, delta] of cases) t.throws(() => applyDelta(crdt, delta, ctx()), IncompatibleDeltaError, name);
  t.throws(() => emptyFor({}), IncompatibleDeltaError);
});

t.test('the whole state as a delta takes an empty user function to the state', async (t) => {
  const states: AnyCrdt[] = [
    fresh({ gcounter: { increment: 42 } }),
    fresh({ pncounter: { change: -7 } }),
    fresh({ gset: { added: [any('a'), any('b')] } }),
    fresh({ orset: { added: [any('a'), any('b')] } }),
    fresh({ lwwregister: { value: any('v') } }),
    fresh({ flag: { value: true } }),
    fresh({ ormap: { added: [{ key: any('k'), delta: { ormap: { added: [{ key: any('n'), delta: { gset: { added: [any('x')] } } }] } } }, { key: any('c'), delta: { gcounter: { increment: 1 } } }] } }),
  ];
  for (const s of states) t.same(view(fresh(stateAsDelta(s, ctx()))), view(s), s.kind);
  t.same(stateAsDelta(GCounter.empty, ctx()), { gcounter: { increment: 0 } }, 'an empty state is still a delta of its type');
  t.same(stateAsDelta(LWWRegister.empty, ctx()), { lwwregister: {} });
  t.same(stateAsDelta(Vote.empty.vote('A', true).vote('B', true).vote('X', true), ctx()), { vote: { self_vote: true, votes_for: 2, total_voters: 3 } }, 'votes of non-members do not count');
  t.same(stateAsDelta(Vote.empty.vote('A', true), ctx('A', ['B'])), { vote: { self_vote: false, votes_for: 0, total_voters: 1 } }, 'a node that is not up does not vote');
});

t.test('diffs: the delta takes the user function from the old state to the new one', async (t) => {
  const cases: [string, AnyCrdt, AnyCrdt, CrdtDelta | undefined][] = [
    ['gcounter', fresh({ gcounter: { increment: 1 } }), GCounter.empty.increment('B', 5).increment('A', 1), { gcounter: { increment: 5 } }],
    ['pncounter down', PNCounter.empty.increment('A', 5), PNCounter.empty.increment('A', 5).decrement('B', 7), { pncounter: { change: -7 } }],
    ['gset', GSet.empty.add(elementOf(any('a'))), GSet.empty.add(elementOf(any('a'))).add(elementOf(any('b'))), { gset: { added: [anyOf(elementOf(any('b')))] } }],
    ['no change', GCounter.empty.increment('A', 1), GCounter.empty.increment('A', 1), undefined],
    ['flag on', Flag.off, Flag.on, { flag: { value: true } }],
    ['lwwregister', LWWRegister.empty, fresh({ lwwregister: { value: any('w') } }), { lwwregister: { value: any('w') } }],
  ];
  for (const [name, old, next, expected] of cases) {
    const d = diffDelta(old, next, ctx());
    t.same(d, expected, name);
  }
  const set = (...es: string[]) => es.reduce((s, e) => s.add('B', elementOf(any(e))), ORSet.empty);
  const setCases: [string, AnyCrdt, AnyCrdt][] = [
    ['orset add and remove', set('a', 'b', 'c', 'd'), set('a', 'b', 'c', 'x')],
    ['orset emptied', set('a', 'b'), ORSet.empty],
    ['orset replaced (cleared, then everything added)', set('a', 'b', 'c'), set('x', 'y')],
  ];
  for (const [name, old, next] of setCases) t.same(view(apply(old, diffDelta(old, next, ctx())!)), view(next), name);
  t.same(diffDelta(set('a', 'b'), ORSet.empty, ctx()), { orset: { cleared: true } });
  t.same(diffDelta(set('a', 'b', 'c'), set('x', 'y'), ctx())?.orset?.cleared, true);
});

t.test('ORMap diffs, nested: added, updated, removed, removed and added again, cleared', async (t) => {
  const k = (s: string) => elementOf(any(s));
  const old = ORMap.empty()
    .put('B', k('counter'), GCounter.empty.increment('B', 5))
    .put('B', k('set'), ORSet.empty.add('B', k('x')))
    .put('B', k('gone'), Flag.on)
    .put('B', k('again'), GCounter.empty.increment('B', 9))
    .put('B', k('inner'), ORMap.empty().put('B', k('n'), PNCounter.empty.increment('B', 1)))
    .resetDelta();
  const next = old
    .update('B', k('counter'), GCounter.empty, (c: AnyCrdt) => (c as GCounter).increment('B', 2))
    .remove(k('gone'))
    .remove(k('again'))
    .put('B', k('again'), GCounter.empty.increment('B', 1))
    .put('B', k('new'), LWWRegister.empty.set('B', k('v'), 1))
    .update('B', k('inner'), ORMap.empty(), (m: AnyCrdt) => (m as ORMap).update('B', k('n'), PNCounter.empty, (c: AnyCrdt) => (c as PNCounter).increment('B', -3)))
    .resetDelta();
  const d = diffDelta(old, next, ctx())!;
  const keys = (as: (Any | null | undefined)[] | undefined) => (as ?? []).map(text).sort();
  t.same(keys(d.ormap!.removed), ['again', 'gone'], 'removed: gone, and again (its counter went down: removed then added)');
  t.same(keys(d.ormap!.added?.map((e) => e.key)), ['again', 'new']);
  t.same(keys(d.ormap!.updated?.map((e) => e.key)), ['counter', 'inner']);
  t.same(d.ormap!.updated?.find((e) => text(e.key) === 'inner')?.delta, { ormap: { removed: [], updated: [{ key: any('n'), delta: { pncounter: { change: -3 } } }], added: [] } });
  t.same(view(apply(old, d)), view(next), 'the diff applied to the old state gives the new one');
  t.same(diffDelta(next, ORMap.empty(), ctx()), { ormap: { cleared: true } });
  t.equal(diffDelta(next, next, ctx()), undefined);
});

t.test('incompatible changes between states throw', async (t) => {
  t.throws(() => diffDelta(GCounter.empty.increment('A', 3), GCounter.empty.increment('A', 1), ctx()), IncompatibleDeltaError, 'a GCounter going down');
  t.throws(() => diffDelta(Flag.on, Flag.off, ctx()), IncompatibleDeltaError, 'a Flag switched off');
  t.throws(() => diffDelta(GCounter.empty, PNCounter.empty, ctx()), IncompatibleDeltaError, 'another type');
  t.throws(() => diffDelta(GSet.empty.add('a'), GSet.empty.add('b'), ctx()), IncompatibleDeltaError, 'a GSet losing elements');
});

t.test('vote diffs report the tally over the voters', async (t) => {
  const v = Vote.empty.vote('A', true);
  t.same(diffDelta(v, v.vote('B', true), ctx()), { vote: { self_vote: true, votes_for: 2, total_voters: 3 } });
  t.same(diffDelta(v, v.vote('A', false), ctx()), { vote: { self_vote: false, votes_for: 0, total_voters: 3 } });
  t.equal(diffDelta(v, v.vote('Z', true), ctx()), undefined, 'a vote of a non-member changes nothing visible');
});
