/**
 * The contract every CRDT of this layer keeps, after Akka Distributed Data's `ReplicatedData`,
 * `DeltaReplicatedData` and `RemovedNodePruning`, and the delta-state CRDTs of Almeida, Shoker
 * and Baquero ("Delta State Replicated Data Types", JPDC 2018). Instances are immutable: every
 * operation returns a new instance. A delta is a state of the same type (a join-irreducible or
 * small state), so a delta is merged like any state and deltas merge into delta groups.
 *
 * Node ids are strings (cluster member ids, unique per process start). Elements, map keys and
 * register values are strings: a caller that stores bytes (protobuf `Any`) encodes them to a
 * canonical string first (./elements.ts).
 */

/** The CRDT types, by their wire tag. */
export type CrdtKind = 'gcounter' | 'pncounter' | 'gset' | 'orset' | 'lwwregister' | 'flag' | 'ormap' | 'vote';

/** A JSON-safe, canonical (deterministic key order) representation of a state; see ./codec.ts. */
export type CrdtJson = { readonly t: string } & Record<string, unknown>;

/**
 * A state-based CRDT with delta support and removed-node pruning.
 *
 * - `merge` is the join of the semilattice: commutative, associative, idempotent. Its result
 *   carries no pending delta.
 * - `delta` is the join of every delta produced by mutations since the last `resetDelta`
 *   (undefined: none). Merging it into a replica that has the state before those mutations
 *   gives the state after them.
 * - `mergeDelta(d)` merges a delta (or a delta group) received from a replica; here it is the
 *   same join as `merge`, named apart because the replicator only ever passes deltas to it.
 * - Pruning (Akka's `RemovedNodePruning`): `modifiedByNodes` names the nodes this state keeps
 *   entries for; `prune(removed, collapseInto)` folds `removed`'s contribution into
 *   `collapseInto`'s so the value is unchanged; `pruningCleanup(removed)` drops whatever
 *   `removed` contributed (used on data arriving after the prune was performed, so an old copy
 *   does not bring the removed node back). The replicator decides when (./pruning.ts): only
 *   once every member has seen the removed node's last contribution.
 */
export interface Crdt<T extends Crdt<T> = AnyCrdt> {
  readonly kind: CrdtKind;
  readonly delta: T | undefined;
  merge(other: T): T;
  mergeDelta(delta: T): T;
  resetDelta(): T;
  modifiedByNodes(): ReadonlySet<string>;
  needPruningFrom(removedNode: string): boolean;
  prune(removedNode: string, collapseInto: string): T;
  pruningCleanup(removedNode: string): T;
  /** The canonical representation (./codec.ts encodes it). */
  toJSON(): CrdtJson;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCrdt = Crdt<any>;

/** Sorted copy of an iterable of strings (canonical encodings use it). */
export function sorted(items: Iterable<string>): string[] {
  return [...items].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A plain object with `map`'s entries in key order (canonical JSON). */
export function sortedRecord<V, W>(map: ReadonlyMap<string, V>, f: (v: V) => W): Record<string, W> {
  const out: Record<string, W> = {};
  for (const k of sorted(map.keys())) out[k] = f(map.get(k)!);
  return out;
}

/** Throws a clear error when a decoded or merged value is of another type. */
export function assertKind(json: { t?: unknown }, tag: string, kind: CrdtKind): void {
  if (json.t !== tag) throw new TypeError(`expected a ${kind} (tag ${tag}), got tag ${String(json.t)}`);
}
