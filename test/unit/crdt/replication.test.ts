// The replicator's pure decisions, table-driven: which delta intervals a peer is due (and when
// the full state instead), the receiver's gap check, the pruning state machine, consistency
// counts, digest comparison, envelope merging (tombstones win, pruned nodes cleaned), and the
// wire batching.
import t from 'tap';
import {
  DELETED,
  DeltaPropagation,
  DeltaReceiver,
  GCounter,
  ORSet,
  applyDelta,
  applyPruningSteps,
  chunkOf,
  compareDigests,
  decodeCrdt,
  envelopeFromJSON,
  envelopeOf,
  envelopeToJSON,
  mergeEnvelopes,
  mergePruningState,
  pruningSteps,
  requiredReplicas,
} from '../../../src/crdt/index.js';
import type { PruningState } from '../../../src/crdt/index.js';
import { decodeMessage, encodeBatches } from '../../../src/crdt/wire.js';

const inc = (node: string, n: number) => GCounter.empty.increment(node, n).delta!;

t.test('delta propagation: intervals, acknowledgements, resends, full-state fallback', async (t) => {
  const p = new DeltaPropagation({ maxBuffered: 3, resendAfterMs: 100 });
  p.record('k', inc('A', 1));
  p.record('k', inc('A', 2));
  let due = p.due('B', 0);
  t.equal(due.length, 1);
  t.match(due[0], { key: 'k', from: 1, to: 2, full: false }, 'a peer that never acknowledged gets the buffered deltas from 1');
  t.equal((due[0]!.delta as GCounter).value, 2, 'as one delta group');
  t.same(p.due('B', 50), [], 'not sent again before the resend timeout');
  t.match(p.due('B', 150), [{ from: 1, to: 2 }], 'sent again after it');
  p.ack('B', 'k', 2);
  t.same(p.due('B', 1000), [], 'nothing due once acknowledged');
  p.record('k', inc('A', 5));
  t.match(p.due('B', 1000), [{ from: 3, to: 3, full: false }], 'the next interval starts after the acknowledged one');
  p.record('k', inc('A', 6));
  t.match(p.due('B', 1001), [{ from: 3, to: 4 }], 'a newer change goes out at once, as a longer interval');
  p.record('k', inc('A', 7));
  p.record('k', inc('A', 8));
  t.match(p.due('B', 2000), [{ from: 1, to: 6, full: true }], 'the full state once the buffer no longer reaches back');
  p.ack('B', 'k', 6);
  p.collect(['B']);
  t.equal(p.outstandingKeys.size, 0, 'a key every peer acknowledged is no longer outstanding');
  t.match(p.due('C', 2000, ['k']), [{ from: 1, full: true }], 'a new peer after the buffer was emptied gets the full state');
  p.rewind('B', 'k', 0);
  t.match(p.due('B', 2000), [{ from: 1, to: 6, full: true }], 'a peer that reports it applied nothing gets the full state at once');
  p.record('k', 'deleted');
  p.ack('B', 'k', 6);
  t.match(p.due('B', 3000), [{ to: 7, full: true }], 'an interval holding the deletion is sent as the full state (the tombstone)');
  p.forget('B');
  t.equal(p.acked('B', 'k'), 0, 'a removed peer is forgotten');
});

t.test('delta receiver: apply, duplicate, gap', async (t) => {
  const r = new DeltaReceiver();
  const table: [from: number, to: number, want: string][] = [
    [1, 2, 'apply'],
    [1, 2, 'duplicate'],
    [2, 3, 'apply'],
    [5, 6, 'gap'],
    [4, 6, 'apply'],
    [1, 9, 'apply'],
  ];
  for (const [from, to, want] of table) t.equal(r.accept('A', 'k', from, to), want, `[${from}, ${to}] → ${want}`);
  t.equal(r.applied('A', 'k'), 9);
  t.equal(r.accept('B', 'k', 2, 3), 'gap', 'per sender');
});

t.test('pruning: merge of states, and the steps of a round', async (t) => {
  const init = (owner: string, ...seen: string[]): PruningState => ({ phase: 'initialized', owner, seen: new Set(seen) });
  const performed: PruningState = { phase: 'performed', obsoleteAt: 100 };
  t.same(mergePruningState(init('A', 'B'), init('A', 'C')), init('A', 'B', 'C'), 'same owner: seen sets unite');
  t.same(mergePruningState(init('B', 'C'), init('A')), init('A'), 'two owners: the smaller id wins');
  t.equal(mergePruningState(init('A', 'B', 'C'), performed), performed, 'performed beats initialized');
  const base = { self: 'A', members: ['A', 'B', 'C'], removedNodes: ['X'], needsPruning: (n: string) => n === 'X', now: 50 };
  t.same(pruningSteps({ ...base, isLeader: true, pruning: new Map() }), [{ kind: 'initialize', removed: 'X' }], 'the leader starts');
  t.same(pruningSteps({ ...base, isLeader: false, pruning: new Map() }), [], 'others do not');
  t.same(pruningSteps({ ...base, self: 'B', isLeader: false, pruning: new Map([['X', init('A')]]) }), [{ kind: 'see', removed: 'X' }], 'a member adds itself to seen');
  t.same(pruningSteps({ ...base, isLeader: true, pruning: new Map([['X', init('A', 'B')]]) }), [], 'the owner waits for every member');
  t.same(pruningSteps({ ...base, isLeader: true, pruning: new Map([['X', init('A', 'B', 'C')]]) }), [{ kind: 'perform', removed: 'X' }], 'and performs once all have seen');
  t.same(pruningSteps({ ...base, isLeader: true, pruning: new Map([['X', performed]]), now: 100 }), [{ kind: 'drop', removed: 'X' }], 'an obsolete marker is dropped');
  t.same(pruningSteps({ ...base, isLeader: true, needsPruning: () => false, pruning: new Map() }), [], 'nothing to prune: nothing starts');

  // Applying a whole round trip of steps: the value stays, X is gone, the marker says performed.
  const g = GCounter.empty.increment('A', 1).increment('X', 4).resetDelta();
  const ctx = { self: 'A', memberIds: new Set(['A', 'B']), obsoleteAt: 99 };
  let r = applyPruningSteps(g, new Map(), [{ kind: 'initialize', removed: 'X' }], ctx);
  t.match(r.pruning.get('X'), { phase: 'initialized', owner: 'A' });
  r = applyPruningSteps(r.data, r.pruning, [{ kind: 'see', removed: 'X' }], { ...ctx, self: 'B' });
  t.same([...(r.pruning.get('X') as { seen: ReadonlySet<string> }).seen], ['B']);
  r = applyPruningSteps(r.data, r.pruning, [{ kind: 'perform', removed: 'X' }], ctx);
  t.same([r.data.value, r.data.needPruningFrom('X'), r.pruning.get('X')], [5, false, { phase: 'performed', obsoleteAt: 99 }]);
  t.equal(applyPruningSteps(g, r.pruning, [{ kind: 'perform', removed: 'X' }], { ...ctx, memberIds: new Set(['X']) }).data, g, 'never for a node that is a member again');
  t.equal(applyPruningSteps(g, r.pruning, [{ kind: 'drop', removed: 'X' }], ctx).pruning.size, 0);
});

t.test('consistency counts', async (t) => {
  const table: [c: 'local' | 'majority' | 'all', members: number, want: number][] = [
    ['local', 5, 1],
    ['majority', 1, 1],
    ['majority', 2, 2],
    ['majority', 3, 2],
    ['majority', 4, 3],
    ['majority', 5, 3],
    ['all', 5, 5],
    ['all', 0, 1],
  ];
  for (const [c, n, want] of table) t.equal(requiredReplicas(c, n), want, `${c} of ${n} → ${want}`);
});

t.test('digest comparison', async (t) => {
  const ours = new Map([
    ['same', 'd1'],
    ['differs', 'd2'],
    ['only-ours', 'd3'],
  ]);
  const chunks = 1;
  const r = compareDigests({ theirs: [['same', 'd1'], ['differs', 'x'], ['only-theirs', 'd4']], chunk: 0, chunks, ourKeys: ours.keys(), ourDigest: (k) => ours.get(k) });
  t.same(r.send.sort(), ['differs', 'only-ours']);
  t.same(r.want.sort(), ['differs', 'only-theirs']);
  const other = compareDigests({ theirs: [], chunk: (chunkOf('only-ours', 7) + 1) % 7, chunks: 7, ourKeys: ['only-ours'], ourDigest: (k) => ours.get(k) });
  t.same(other.send, [], 'a key of another chunk is not sent');
});

t.test('envelopes: tombstones win, pruned nodes are cleaned, types are checked', async (t) => {
  const a = envelopeOf(GCounter.empty.increment('A', 1).increment('X', 5).resetDelta());
  const b = envelopeOf(GCounter.empty.increment('B', 2).resetDelta());
  t.equal((mergeEnvelopes('k', a, b).data as GCounter).value, 8);
  t.equal(mergeEnvelopes('k', a, DELETED), DELETED, 'a tombstone wins');
  t.equal(mergeEnvelopes('k', DELETED, b), DELETED, 'either way');
  t.equal(applyDelta('k', DELETED, inc('A', 3)), DELETED, 'a delta does not revive a deleted key');
  const prunedX = envelopeOf((a.data as GCounter).prune('X', 'A'), new Map([['X', { phase: 'performed', obsoleteAt: 1 } as const]]));
  const merged = mergeEnvelopes('k', prunedX, a);
  t.equal((merged.data as GCounter).value, 6, 'an old copy still holding X is cleaned before the merge (no double count)');
  t.notOk(merged.data!.needPruningFrom('X'));
  t.equal((applyDelta('k', prunedX, inc('X', 9)).data as GCounter).value, 6, 'so is a late delta from X');
  t.equal(JSON.stringify(envelopeToJSON(envelopeFromJSON(envelopeToJSON(merged)))), JSON.stringify(envelopeToJSON(merged)), 'envelopes round-trip');
  t.throws(() => mergeEnvelopes('k', a, envelopeOf(ORSet.empty.add('A', 'x'))), { code: 'ERR_CRDT_TYPE_MISMATCH' });
  t.throws(() => decodeCrdt(new Uint8Array([9, 1])), { code: 'ERR_CRDT_DECODE' });
  t.throws(() => decodeCrdt(new Uint8Array([1, 123])), { code: 'ERR_CRDT_DECODE' });
});

t.test('wire batches stay within the byte budget', async (t) => {
  const parts = Array.from({ length: 100 }, (_, i) => JSON.stringify([`key-${i}`, i]));
  const batches = encodeBatches('ack', parts, 200);
  t.ok(batches.length > 1, `${batches.length} messages`);
  t.ok(batches.every((b) => b.byteLength <= 201), 'each within the budget (plus the version byte)');
  const all = batches.flatMap((b) => (decodeMessage(b) as { e: [string, number][] }).e);
  t.same(all, parts.map((p) => JSON.parse(p)), 'every entry once, in order');
});
