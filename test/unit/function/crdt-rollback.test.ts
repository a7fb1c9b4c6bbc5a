// Rolling back a failed CRDT handler: every CRDT type reports each local change with its undo
// (an ORMap passes on its values' changes), and the instance undoes them newest first and drops
// the delta. For random sequences of changes, the value after the rollback is the value before,
// with no delta, and the state goes on working; a handler that succeeds makes no copy of the state.
import fc from 'fast-check';
import t from 'tap';
import { AnySupport, CrdtState, Flag, GCounter, GSet, LWWRegister, ORMap, ORSet, PNCounter, Vote } from '../../../src/function/index.js';
import { crdtFromDelta, deltaContext } from '../../../src/function/crdt/factory.js';
import { keyOfAny, packValue } from '../../../src/function/crdt/state.js';
import type { CrdtDelta } from '../../../src/protocol/index.js';

const context = deltaContext((any) => new AnySupport([]).unpack(any));

/** Runs `change` on `state`, then rolls it back as the instance does. Returns how many undos were logged. */
function changeAndRollBack(state: CrdtState, change: () => void): number {
  const undos: (() => void)[] = [];
  state.onChange((undo) => undos.push(undo));
  try {
    change();
  } finally {
    state.onChange(undefined);
  }
  for (let i = undos.length - 1; i >= 0; i--) undos[i]!();
  state.resetDelta();
  return undos.length;
}

/** The value as a delta with elements and entries in key order (a rollback may reorder them; sets and maps are unordered). */
function canonical(delta: CrdtDelta): unknown {
  const byKey = <T>(items: T[], key: (item: T) => string) => [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  if (delta.gset) return { gset: byKey(delta.gset.added ?? [], keyOfAny).map(keyOfAny) };
  if (delta.orset) return { orset: byKey(delta.orset.added ?? [], keyOfAny).map(keyOfAny) };
  if (delta.ormap) return { ormap: byKey(delta.ormap.added ?? [], (e) => keyOfAny(e.key!)).map((e) => [keyOfAny(e.key!), canonical(e.delta!)]) };
  return delta;
}
const valueOf = (state: CrdtState) => canonical(state.fullDelta());
/** A replica holding `state`'s value and no delta (as the proxy's init would make it). */
const replicaOf = <S extends CrdtState>(state: S): S => crdtFromDelta(state.fullDelta(), context) as S;

t.test('counters, flag, register and vote: the value before, no delta, still working', async (t) => {
  const counter = replicaOf(new GCounter().increment(4));
  t.equal(changeAndRollBack(counter, () => counter.increment(3).increment(0).increment(2)), 2, 'two changes logged (an increment of 0 is none)');
  t.equal(counter.value, 4);
  t.notOk(counter.hasDelta);
  t.same(counter.increment(1).delta(), { gcounter: { increment: 1 } }, 'a later change is its own delta');

  const pn = replicaOf(new PNCounter().increment(-2));
  changeAndRollBack(pn, () => pn.increment(5).decrement(9));
  t.equal(pn.value, -2);
  t.notOk(pn.hasDelta);

  const flag = new Flag();
  changeAndRollBack(flag, () => flag.enable());
  t.equal(flag.value, false);
  t.notOk(flag.hasDelta);
  t.same(flag.enable().delta(), { flag: { value: true } });

  const register = replicaOf(new LWWRegister('a'));
  changeAndRollBack(register, () => {
    register.value = 'b';
    register.value = 'c';
  });
  t.equal(register.value, 'a');
  t.notOk(register.hasDelta);

  const vote = replicaOf(new Vote());
  changeAndRollBack(vote, () => vote.vote(true));
  t.same([vote.selfVote, vote.votesFor, vote.hasDelta], [false, 0, false]);
  vote.vote(true);
  t.same([vote.selfVote, vote.votesFor, vote.delta()], [true, 1, { vote: { self_vote: true } }]);
});

const element = fc.integer({ min: 0, max: 12 });
const setOp = fc.oneof(
  fc.record({ add: element }),
  fc.record({ remove: element }),
  fc.constant({ clear: true as const }),
);

t.test('GSet and ORSet: any sequence of adds, removes and clears rolls back to the value before', async () => {
  fc.assert(
    fc.property(fc.array(element), fc.array(setOp, { maxLength: 20 }), (initial, ops) => {
      const gset = replicaOf(initial.reduce((s, e) => (s.add(e), s), new GSet<number>()));
      const gBefore = valueOf(gset);
      changeAndRollBack(gset, () => ops.forEach((op) => 'add' in op && gset.add(op.add)));
      if (JSON.stringify(valueOf(gset)) !== JSON.stringify(gBefore) || gset.hasDelta) return false;

      const orset = replicaOf(initial.reduce((s, e) => (s.add(e), s), new ORSet<number>()));
      const before = valueOf(orset);
      changeAndRollBack(orset, () => {
        for (const op of ops) {
          if ('add' in op) orset.add(op.add);
          else if ('remove' in op) orset.delete(op.remove);
          else orset.clear();
        }
      });
      if (JSON.stringify(valueOf(orset)) !== JSON.stringify(before) || orset.hasDelta) return false;
      // Still working: a change after the rollback is exactly its own delta.
      orset.add(100);
      return JSON.stringify(orset.delta()) === JSON.stringify({ orset: { cleared: false, removed: [], added: [packValue(100)] } });
    }),
  );
});

/** Keys starting with `c` hold GCounters, with `s` ORSets: one type per key, as a user's map would. */
const mapKey = fc.constantFrom('c1', 'c2', 'c3', 's1', 's2');
const mapOp = fc.oneof(
  fc.record({ change: mapKey, by: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ replace: mapKey }),
  fc.record({ remove: mapKey }),
  fc.record({ removeThenChange: mapKey }),
  fc.constant({ clear: true as const }),
);
type Value = GCounter | ORSet<number>;
const valueFor = (key: string): Value => (key.startsWith('c') ? new GCounter() : new ORSet<number>());
const changeValue = (value: Value | undefined, by: number) => (value instanceof GCounter ? value.increment(by) : value?.add(by));

t.test('ORMap of counters and sets: any sequence of changes to entries and values rolls back to the value before', async () => {
  fc.assert(
    fc.property(fc.array(fc.record({ key: mapKey, by: fc.integer({ min: 1, max: 5 }) })), fc.array(mapOp, { maxLength: 20 }), (initial, ops) => {
      const source = new ORMap<string, Value>();
      for (const { key, by } of initial) changeValue(source.getOrCreate(key, () => valueFor(key)), by);
      const map = replicaOf(source);
      const before = valueOf(map);
      changeAndRollBack(map, () => {
        for (const op of ops) {
          if ('change' in op) changeValue(map.getOrCreate(op.change, () => valueFor(op.change)), op.by);
          else if ('replace' in op) {
            const value = valueFor(op.replace);
            changeValue(value, 7);
            map.set(op.replace, value);
          }
          else if ('remove' in op) map.delete(op.remove);
          else if ('removeThenChange' in op) {
            const value = map.get(op.removeThenChange);
            map.delete(op.removeThenChange);
            changeValue(value, 3);
          } else map.clear();
        }
      });
      if (JSON.stringify(valueOf(map)) !== JSON.stringify(before) || map.hasDelta) return false;
      // Still working, values included: a change after the rollback is exactly its own delta.
      const first = map.keys()[0];
      if (first === undefined) return true;
      changeValue(map.get(first), 99); // not an element any op adds
      const delta = map.delta()!.ormap!;
      return delta.added!.length === 0 && delta.removed!.length === 0 && delta.updated!.length === 1;
    }),
  );
});

t.test('a handler that succeeds logs undos, never a copy: fullDelta is not called', async (t) => {
  const set = replicaOf(Array.from({ length: 1000 }, (_, i) => i).reduce((s, e) => (s.add(e), s), new ORSet<number>()));
  let copies = 0;
  const fullDelta = set.fullDelta.bind(set);
  set.fullDelta = () => {
    copies++;
    return fullDelta();
  };
  const undos: (() => void)[] = [];
  set.onChange((undo) => undos.push(undo));
  set.add(5000);
  set.delete(3);
  set.onChange(undefined);
  t.equal(undos.length, 2, 'one undo per change');
  t.equal(copies, 0, 'no copy of the 1,000 elements');
});
