// The library's CRDT state objects: each one's local delta, applied to another replica, gives
// the same value; its whole value as a delta rebuilds it; the folding rules of the protocol's
// deltas (an ORSet remove of an element added since the last reply forgets the add, a clear
// drops what came before, …); incompatible deltas are refused.
import fc from 'fast-check';
import t from 'tap';
import { AnySupport, CrdtState, Flag, GCounter, GSet, LWWRegister, ORMap, ORSet, PNCounter, Vote, Clock } from '../../../src/function/index.js';
import { crdtForDelta, crdtFromDelta, deltaContext } from '../../../src/function/crdt/factory.js';
import type { CrdtDelta } from '../../../src/protocol/index.js';

const context = deltaContext((any) => new AnySupport([]).unpack(any));

/** Sends `from`'s delta to `to` (a new replica of the same type when absent); returns the delta. */
function replicate(from: CrdtState, to: CrdtState): CrdtDelta | undefined {
  const delta = from.delta();
  from.resetDelta();
  if (delta) to.applyDelta(delta, context);
  return delta;
}
/** A new replica holding `state`'s whole value. */
const rebuilt = <S extends CrdtState>(state: S): S => crdtFromDelta(state.fullDelta(), context) as S;

t.test('GCounter: increments add up, the delta is their sum, decrements are refused', async (t) => {
  const a = new GCounter();
  const b = new GCounter();
  t.notOk(a.hasDelta, 'a new counter has no delta');
  a.increment(2).increment(3);
  t.same(replicate(a, b), { gcounter: { increment: 5 } });
  t.equal(b.value, 5);
  t.notOk(a.hasDelta, 'the delta was reset');
  t.throws(() => a.increment(-1), /cannot be decremented/);
  t.equal(rebuilt(b).value, 5);
});

t.test('PNCounter: the delta is the net change; no delta when it nets to zero', async (t) => {
  const a = new PNCounter();
  const b = new PNCounter();
  a.increment(5).decrement(7);
  t.same(replicate(a, b), { pncounter: { change: -2 } });
  t.equal(b.value, -2);
  a.increment(1).decrement(1);
  t.notOk(a.hasDelta, 'a change that nets to zero is no delta');
  t.equal(rebuilt(b).value, -2);
});

t.test('GSet: the delta is the new elements only', async (t) => {
  const a = new GSet<string>();
  const b = new GSet<string>();
  a.add('x');
  replicate(a, b);
  t.equal(a.add('x'), false, 'adding again is nothing');
  t.notOk(a.hasDelta);
  a.add('y');
  t.equal(replicate(a, b)?.gset?.added?.length, 1);
  t.same(b.values(), ['x', 'y']);
  t.ok(b.has('y'));
  t.same(rebuilt(b).values(), ['x', 'y']);
});

t.test('ORSet: adds and removes fold into one delta; removing the last element is a clear', async (t) => {
  const a = new ORSet<string>();
  const b = new ORSet<string>();
  a.add('a');
  a.add('b');
  a.add('c');
  replicate(a, b);
  a.add('d');
  a.delete('d');
  t.notOk(a.hasDelta, 'an element added and removed since the last reply leaves no trace');
  a.delete('b');
  a.add('b');
  t.notOk(a.hasDelta, 'an element removed and added again leaves no trace');
  a.delete('a');
  a.add('e');
  const delta = replicate(a, b)!;
  t.equal(delta.orset?.removed?.length, 1);
  t.equal(delta.orset?.added?.length, 1);
  t.same(b.values().sort(), ['b', 'c', 'e']);
  a.delete('b');
  a.delete('c');
  a.delete('e');
  t.equal(a.delta()?.orset?.cleared, true, 'removing the last element is a clear');
  replicate(a, b);
  t.equal(b.size, 0);
  a.add('z');
  a.clear();
  a.add('y');
  const cleared = replicate(a, b)!;
  t.equal(cleared.orset?.cleared, true);
  t.equal(cleared.orset?.added?.length, 1, 'what was added before the clear is gone');
  t.same(b.values(), ['y']);
  t.same(rebuilt(b).values(), ['y']);
});

t.test('ORSet elements may be numbers, booleans and JSON objects (compared by their packed form)', async (t) => {
  const a = new ORSet<unknown>();
  const b = new ORSet<unknown>();
  a.add(1);
  a.add(true);
  a.add({ name: 'ann' });
  t.notOk(a.add({ name: 'ann' }), 'an equal object is the same element');
  replicate(a, b);
  t.same(b.values(), [1, true, { name: 'ann' }]);
  t.ok(b.has({ name: 'ann' }));
});

t.test('LWWRegister: a write with another value or clock is a delta; the same write is none', async (t) => {
  const a = new LWWRegister<string>('');
  const b = new LWWRegister<string>();
  t.same(replicate(a, b)?.lwwregister?.clock, 0, 'the initial value is sent');
  t.equal(b.value, '');
  a.value = '';
  t.notOk(a.hasDelta, 'the same value with the same clock changes nothing');
  a.set('', Clock.CUSTOM, 7);
  const delta = replicate(a, b)!;
  t.equal(delta.lwwregister?.clock, Clock.CUSTOM);
  t.equal(delta.lwwregister?.custom_clock_value, 7);
  a.set('x', Clock.REVERSE);
  replicate(a, b);
  t.equal(b.value, 'x');
  t.equal(rebuilt(b).value, 'x');
  t.throws(() => new LWWRegister<string>().value, /no value/);
  t.throws(() => a.set('y', 9 as Clock), /unknown LWWRegister clock/);
});

t.test('Flag: enabled once; an incoming false does not switch it off', async (t) => {
  const a = new Flag();
  const b = new Flag();
  a.enable();
  t.same(replicate(a, b), { flag: { value: true } });
  a.enable();
  t.notOk(a.hasDelta, 'enabling again is nothing');
  (b as CrdtState).applyDelta({ flag: { value: false } }, context);
  t.equal(b.value, true);
  t.equal(rebuilt(b).value, true);
});

t.test('Vote: the own vote moves the tally by one; incoming deltas carry the tally', async (t) => {
  const v = new Vote();
  t.same([v.selfVote, v.votesFor, v.totalVoters, v.atLeastOne, v.all], [false, 0, 1, false, false]);
  v.vote(true);
  t.same([v.votesFor, v.majority, v.all], [1, true, true]);
  t.same(v.delta(), { vote: { self_vote: true } });
  v.resetDelta();
  v.vote(false).vote(true);
  t.notOk(v.hasDelta, 'back to the vote last sent: no delta');
  (v as CrdtState).applyDelta({ vote: { self_vote: true, votes_for: 2, total_voters: 5 } }, context);
  t.same([v.votesFor, v.totalVoters, v.atLeastOne, v.majority], [2, 5, true, false]);
  const r = rebuilt(v);
  t.same([r.selfVote, r.votesFor, r.totalVoters], [true, 2, 5]);
});

t.test('ORMap: values are CRDTs made on demand; added entries carry their whole delta, others their change', async (t) => {
  const a = new ORMap<string>();
  const b = new ORMap<string>();
  a.getOrCreate('hits', () => new GCounter()).increment(2);
  a.getOrCreate('tags', () => new ORSet<string>());
  const first = replicate(a, b)!;
  t.same(first.ormap?.added?.map((e) => e.delta), [{ gcounter: { increment: 2 } }, { orset: {} }], 'a new value without changes is sent as an empty delta of its type');
  t.equal((b.get('hits') as GCounter).value, 2);
  (a.get('hits') as GCounter).increment(3);
  (a.get('tags') as ORSet<string>).add('x');
  const second = replicate(a, b)!;
  t.equal(second.ormap?.updated?.length, 2);
  t.equal(second.ormap?.added?.length, 0);
  t.equal((b.get('hits') as GCounter).value, 5);
  t.same((b.get('tags') as ORSet<string>).values(), ['x']);
  a.getOrCreate('tmp', () => new Flag());
  a.delete('tmp');
  t.notOk(a.hasDelta, 'an entry added and removed since the last reply leaves no trace');
  a.delete('tags');
  t.same(replicate(a, b)?.ormap?.removed?.length, 1);
  t.same(b.keys(), ['hits']);
  const nested = new ORMap<string>();
  nested.getOrCreate('inner', () => new ORMap<string>()).getOrCreate('n', () => new PNCounter()).decrement(4);
  const copy = rebuilt(nested);
  t.equal(((copy.get('inner') as ORMap<string>).get('n') as PNCounter).value, -4, 'nested maps rebuild from the whole value');
  t.throws(() => a.set('bad', 3 as unknown as CrdtState), /must be CRDTs/);
});

t.test('an incompatible delta is refused; an empty delta names no type', async (t) => {
  t.throws(() => (new GCounter() as CrdtState).applyDelta({ pncounter: { change: 1 } }, context), /a pncounter delta for a gcounter/);
  t.throws(() => crdtForDelta({}), /no CRDT type/);
});

// Any sequence of local changes, sent as deltas reply after reply, leaves the other replica
// with the same value (the folding rules never lose or invent a change).
const element = fc.constantFrom('a', 'b', 'c', 'd');
const setOp = fc.oneof(
  fc.record({ op: fc.constant('add' as const), e: element }),
  fc.record({ op: fc.constant('delete' as const), e: element }),
  fc.record({ op: fc.constant('clear' as const), e: element }),
  fc.record({ op: fc.constant('reply' as const), e: element }),
);

t.test('property: ORSet deltas reproduce the local value on another replica', async (t) => {
  fc.assert(
    fc.property(fc.array(setOp, { maxLength: 40 }), (ops) => {
      const a = new ORSet<string>();
      const b = new ORSet<string>();
      for (const { op, e } of ops) {
        if (op === 'add') a.add(e);
        else if (op === 'delete') a.delete(e);
        else if (op === 'clear') a.clear();
        else replicate(a, b);
      }
      replicate(a, b);
      return JSON.stringify(b.values().sort()) === JSON.stringify(a.values().sort()) && JSON.stringify(rebuilt(a).values().sort()) === JSON.stringify(a.values().sort());
    }),
  );
  t.pass('held for every generated sequence');
});

t.test('property: ORMap of PNCounters, deltas reproduce the local value on another replica', async (t) => {
  const mapOp = fc.oneof(setOp, fc.record({ op: fc.constant('inc' as const), e: element, by: fc.integer({ min: -5, max: 5 }) }));
  const valueOf = (m: ORMap<string>) => JSON.stringify(m.entries().map(([k, v]) => [k, (v as PNCounter).value]).sort());
  fc.assert(
    fc.property(fc.array(mapOp, { maxLength: 40 }), (ops) => {
      const a = new ORMap<string>();
      const b = new ORMap<string>();
      for (const step of ops) {
        const { op, e } = step;
        if (op === 'add') a.getOrCreate(e, () => new PNCounter());
        else if (op === 'inc') a.getOrCreate(e, () => new PNCounter()).increment((step as { by: number }).by);
        else if (op === 'delete') a.delete(e);
        else if (op === 'clear') a.clear();
        else replicate(a, b);
      }
      replicate(a, b);
      return valueOf(b) === valueOf(a) && valueOf(rebuilt(a)) === valueOf(a);
    }),
  );
  t.pass('held for every generated sequence');
});
