// The coordinator's state as a pure reducer: transitions, every invariant violation, and the
// rebuild after a fail-over. Table-driven.
import t from 'tap';
import { hasCode } from '../../../src/core/index.js';
import { allocations, checkInvariants, emptyCoordinatorState, rebuild, updated } from '../../../src/sharding/coordinator-state.js';
import type { CoordinatorEvent, CoordinatorState } from '../../../src/sharding/coordinator-state.js';

const fold = (events: CoordinatorEvent[], from: CoordinatorState = emptyCoordinatorState): CoordinatorState => events.reduce(updated, from);
/** A state as plain data: region → sorted shards, in region order. */
const view = (s: CoordinatorState): Record<string, string[]> => Object.fromEntries([...allocations(s)].sort(([a], [b]) => (a < b ? -1 : 1)).map(([r, ss]) => [r, [...ss]]));

const reg = (region: string): CoordinatorEvent => ({ type: 'region-registered', region });
const term = (region: string): CoordinatorEvent => ({ type: 'region-terminated', region });
const alloc = (shard: string, region: string): CoordinatorEvent => ({ type: 'shard-allocated', shard, region });
const dealloc = (shard: string): CoordinatorEvent => ({ type: 'shard-home-deallocated', shard });

t.test('updated: transitions', async (t) => {
  const cases: [string, CoordinatorEvent[], Record<string, string[]>][] = [
    ['a region registers with no shard', [reg('a')], { a: [] }],
    ['shards allocated', [reg('a'), reg('b'), alloc('1', 'a'), alloc('2', 'b'), alloc('3', 'a')], { a: ['1', '3'], b: ['2'] }],
    ['hand-off finished: unallocated', [reg('a'), alloc('1', 'a'), alloc('2', 'a'), dealloc('1')], { a: ['2'] }],
    ['a shard moves: deallocated, then allocated elsewhere', [reg('a'), reg('b'), alloc('1', 'a'), dealloc('1'), alloc('1', 'b')], { a: [], b: ['1'] }],
    ['a region terminates: its shards are unallocated', [reg('a'), reg('b'), alloc('1', 'a'), alloc('2', 'b'), term('a')], { b: ['2'] }],
    ['a terminated region registers again, empty', [reg('a'), alloc('1', 'a'), term('a'), reg('a')], { a: [] }],
    ['a shard of a terminated region is allocated again', [reg('a'), reg('b'), alloc('1', 'a'), term('a'), alloc('1', 'b')], { b: ['1'] }],
  ];
  for (const [name, events, expected] of cases) {
    const state = fold(events);
    t.same(view(state), expected, name);
    t.equal(state.shards.size, Object.values(expected).flat().length, `${name}: shard index agrees`);
  }
});

t.test('updated: every violation throws ERR_SHARDING_INVARIANT and leaves the state as it was', async (t) => {
  const base = fold([reg('a'), reg('b'), alloc('1', 'a')]);
  const before = view(base);
  const cases: [string, CoordinatorEvent][] = [
    ['registering a region twice', reg('a')],
    ['allocating a shard already allocated (elsewhere)', alloc('1', 'b')],
    ['allocating a shard already allocated (same region)', alloc('1', 'a')],
    ['allocating to an unknown region', alloc('2', 'x')],
    ['deallocating an unallocated shard', dealloc('2')],
    ['terminating an unknown region', term('x')],
  ];
  for (const [name, event] of cases) {
    t.ok(hasCode(t.throws(() => updated(base, event), name), 'ERR_SHARDING_INVARIANT'), `${name}: the code`);
    t.same(view(base), before, `${name}: state untouched`);
  }
});

t.test('updated: immutable, the input state is never changed', async (t) => {
  const s1 = fold([reg('a'), alloc('1', 'a')]);
  const snapshot = view(s1);
  const s2 = updated(s1, alloc('2', 'a'));
  const s3 = updated(s2, term('a'));
  t.same(view(s1), snapshot, 'earlier state kept');
  t.same(view(s2), { a: ['1', '2'] });
  t.same(view(s3), {});
  t.not(s1.regions.get('a'), s2.regions.get('a'), 'a changed region gets a new set');
  t.same(view(emptyCoordinatorState), {}, 'the empty state is still empty');
});

t.test('checkInvariants: catches a state built by hand that disagrees with itself', async (t) => {
  const cases: [string, CoordinatorState][] = [
    ['a shard mapped to an unregistered region', { regions: new Map(), shards: new Map([['1', 'a']]) }],
    ['a shard mapped to a region that does not list it', { regions: new Map([['a', new Set<string>()]]), shards: new Map([['1', 'a']]) }],
    ['a region lists an unallocated shard', { regions: new Map([['a', new Set(['1'])]]), shards: new Map() }],
    ['a region lists a shard mapped elsewhere', { regions: new Map([['a', new Set(['1'])], ['b', new Set<string>()]]), shards: new Map([['1', 'b']]) }],
  ];
  for (const [name, state] of cases) t.ok(hasCode(t.throws(() => checkInvariants(state)), 'ERR_SHARDING_INVARIANT'), name);
  t.doesNotThrow(() => checkInvariants(fold([reg('a'), alloc('1', 'a')])), 'a folded state holds');
});

t.test('rebuild: from the regions reports, conflicts to the lowest region id, reported', async (t) => {
  const cases: [string, { region: string; shards: string[] }[], Record<string, string[]>, string[]][] = [
    ['nothing reported', [], {}, []],
    ['disjoint reports', [{ region: 'a', shards: ['1', '2'] }, { region: 'b', shards: ['3'] }, { region: 'c', shards: [] }], { a: ['1', '2'], b: ['3'], c: [] }, []],
    ['two claim one shard: the lowest id keeps it', [{ region: 'b', shards: ['1', '2'] }, { region: 'a', shards: ['1'] }], { a: ['1'], b: ['2'] }, ['1']],
    ['three claim: the lowest id, whatever the order', [{ region: 'c', shards: ['7'] }, { region: 'a', shards: ['7'] }, { region: 'b', shards: ['7', '8'] }], { a: ['7'], b: ['8'], c: [] }, ['7']],
    ['a region reported twice: merged, no conflict with itself', [{ region: 'a', shards: ['1'] }, { region: 'a', shards: ['1', '2'] }], { a: ['1', '2'] }, []],
    ['conflicts listed once, sorted', [{ region: 'b', shards: ['9', '10'] }, { region: 'a', shards: ['10', '9'] }, { region: 'c', shards: ['9'] }], { a: ['10', '9'], b: [], c: [] }, ['10', '9']],
  ];
  for (const [name, reports, expected, conflicts] of cases) {
    const r = rebuild(reports);
    t.same(view(r.state), expected, name);
    t.same(r.conflicts, conflicts, `${name}: conflicts`);
    t.same(view(rebuild([...reports].reverse()).state), expected, `${name}: independent of report order`);
    t.doesNotThrow(() => updated(r.state, reg('fresh')), `${name}: the rebuilt state goes on`);
  }
});
