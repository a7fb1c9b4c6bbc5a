/**
 * Delta-state CRDTs and the replicator that disseminates them over the cluster
 * (`@cloudstate/cluster/crdt`). The data types are pure and immutable, one file each; the
 * replicator (./replicator.ts) keeps one copy of every key on every member.
 *
 * ```ts
 * const replicator = await Replicator.start({ cluster });            // one per node
 * const me = replicator.selfId;
 * await replicator.update('visits', GCounter.empty, (c) => c.increment(me, 1));
 * await replicator.update('online', ORSet.empty, (s) => s.add(me, 'alice'), { consistency: 'majority', timeoutMs: 5000 });
 * const online = await replicator.get<ORSet>('online', { consistency: 'majority' });
 * const stop = replicator.subscribe('online', ({ data, deleted }) => { ... });
 * await replicator.delete('visits', { consistency: 'all' });        // stays deleted
 * ```
 *
 * Error codes: `ERR_CRDT_WRITE_TIMEOUT`, `ERR_CRDT_READ_TIMEOUT`, `ERR_CRDT_DELETED`,
 * `ERR_CRDT_TYPE_MISMATCH`, `ERR_CRDT_DECODE`, `ERR_CRDT_REPLICATOR_CLOSED`.
 */
export type { AnyCrdt, Crdt, CrdtJson, CrdtKind } from './types.js';
export { CausalContext } from './causal-context.js';
export { GCounter } from './gcounter.js';
export { PNCounter } from './pncounter.js';
export { GSet } from './gset.js';
export { ORSet } from './orset.js';
export type { Dots } from './orset.js';
export { LWWRegister, nextTimestamp } from './lww-register.js';
export type { LWWClock } from './lww-register.js';
export { Flag } from './flag.js';
export { ORMap } from './ormap.js';
export type { Slot } from './ormap.js';
export { Vote } from './vote.js';
export type { NodeVote } from './vote.js';
export { CRDT_CODEC_VERSION, crdtEquals, crdtFromJSON, crdtToText, decodeCrdt, emptyCrdt, encodeCrdt } from './codec.js';
export { bytesToElement, elementToBytes } from './elements.js';
export { Replicator } from './replicator.js';
export type { Change, ReadOptions, ReplicatorCluster, ReplicatorOptions, ReplicatorStats, WriteOptions } from './replicator.js';
export { requiredReplicas } from './consistency.js';
export type { Consistency } from './consistency.js';
export { MemoryDurableStore } from './durable-store.js';
export type { DurableStore } from './durable-store.js';
export { DELETED, applyDelta, envelopeFromJSON, envelopeOf, envelopeToJSON, mergeEnvelopes } from './envelope.js';
export type { Envelope, EnvelopeJson } from './envelope.js';
export { applyPruningSteps, mergePruning, mergePruningState, pruningSteps } from './pruning.js';
export type { PruningMap, PruningState, PruningStep } from './pruning.js';
export { DeltaPropagation, DeltaReceiver } from './propagation.js';
export type { Acceptance, Interval, PropagationOptions } from './propagation.js';
export { chunkCount, chunkOf, compareDigests, digestOf } from './digest.js';
