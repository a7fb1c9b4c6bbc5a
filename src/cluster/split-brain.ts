/**
 * Split-brain handling as a pure reducer (after Akka's Split Brain Resolver). SWIM alone lets
 * both sides of a partition declare the other dead and carry on: two singletons, two writers.
 * Here each node keeps a *reference set*, the members it believes make up the cluster (up,
 * leaving or exiting; removed only by a graceful leave or by this node downing them), and asks
 * the downing policy whether the members it can still reach may go on:
 *
 * - `keep-majority` (default): more than half of the reference set is reachable; on an exact
 *   half, the side with the member of the lowest address survives.
 * - `keep-oldest`: the side with the oldest member survives, unless the oldest is alone
 *   (and at least three members are known), in which case the others survive.
 * - `static-quorum`: at least `quorumSize` members are reachable (set it to more than half
 *   the largest the cluster will be).
 *
 * A brief loss is ridden out: `hasQuorum` turns false only once the verdict has been "no
 * quorum" for `lossGraceMs` without a break (a member that joined while busy and missed one
 * probe would otherwise make the oldest of two members hand over every singleton and shard).
 * It is safe while the grace is well below `stableAfterMs`: the other side cannot down this
 * node, and so take over what it hosts, before the same unreachable picture has held for
 * `stableAfterMs` there.
 *
 * With quorum, members SWIM declared dead are downed once the picture has been stable for
 * `stableAfterMs` (the same unreachable members, the same verdict), as Akka's `stable-after`:
 * a side that just regained quorum first gives SWIM time to learn who is back before it downs
 * anyone, so two healed sides never down each other. Downed members leave the reference set. Without
 * it, nothing is downed (the reference set is kept, so the majority still counts as missing)
 * and this node stops hosting singletons and shards until it regains quorum, which it does
 * as soon as it reaches enough of the reference set again: no restart needed.
 */
import { byAge, type ClusterMember } from './lifecycle.js';

export type DowningPolicy = { kind: 'keep-majority' } | { kind: 'keep-oldest' } | { kind: 'static-quorum'; quorumSize: number };

export interface ReferenceMember {
  readonly id: string;
  readonly address: string;
  readonly upSince: number;
}

export interface QuorumState {
  /** The members this node believes make up the cluster, by id. */
  readonly reference: ReadonlyMap<string, ReferenceMember>;
  /** The unreachable members and the verdict when they last changed, and when (ms, the caller's clock). */
  readonly signature: string;
  readonly changedAt: number;
  /** Since when (ms) the policy has said "no quorum" without a break; undefined while it says yes. */
  readonly lostAt?: number;
}

export interface QuorumDecision {
  readonly state: QuorumState;
  /** Whether this node may go on hosting: the policy says so, or said so less than `lossGraceMs` ago. */
  readonly hasQuorum: boolean;
  /** Members to down now (SWIM declared them dead and this side survives). */
  readonly down: readonly string[];
}

export const emptyQuorumState: QuorumState = { reference: new Map(), signature: '', changedAt: 0 };

/** Whether the reachable part of `reference` may go on under `policy`. `reachable` holds ids. */
export function survives(policy: DowningPolicy, reference: readonly ReferenceMember[], reachable: ReadonlySet<string>): boolean {
  const n = reference.length;
  const r = reference.filter((m) => reachable.has(m.id)).length;
  if (n === 0) return true;
  switch (policy.kind) {
    case 'keep-majority': {
      if (2 * r !== n) return 2 * r > n;
      const lowest = [...reference].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.id < b.id ? -1 : 1))[0]!;
      return reachable.has(lowest.id);
    }
    case 'keep-oldest': {
      const oldest = [...reference].sort(byAge)[0]!;
      const alone = n >= 3 && (reachable.has(oldest.id) ? r === 1 : r === n - 1);
      return reachable.has(oldest.id) !== alone;
    }
    case 'static-quorum':
      return r >= policy.quorumSize;
  }
}

/**
 * One step: folds the current view (every member this node knows, itself included) into the
 * reference set and decides. Members SWIM has forgotten are still in the reference set and
 * count as unreachable until this side downs them. `now`, `stableAfterMs` and `lossGraceMs` in ms.
 */
export function decideQuorum(
  policy: DowningPolicy,
  state: QuorumState,
  view: readonly ClusterMember[],
  selfId: string,
  now: number,
  stableAfterMs: number,
  lossGraceMs = 0,
): QuorumDecision {
  const reference = new Map(state.reference);
  for (const m of view) {
    if (m.state === 'up' || m.state === 'leaving' || m.state === 'exiting') {
      if (m.liveness !== 'dead' || reference.has(m.id)) reference.set(m.id, { id: m.id, address: m.address, upSince: m.upSince });
    } else if (m.state === 'removed' || m.state === 'down') {
      reference.delete(m.id);
    }
  }
  const byId = new Map(view.map((m) => [m.id, m]));
  const reachable = new Set([...reference.keys()].filter((id) => id === selfId || byId.get(id)?.reachable === true));
  const verdict = survives(policy, [...reference.values()], reachable);
  const signature = `${verdict}:${[...reference.keys()].filter((id) => !reachable.has(id)).sort().join(',')}`;
  const changedAt = signature === state.signature ? state.changedAt : now;
  const stable = now - changedAt >= stableAfterMs;
  const down = verdict && stable ? [...reference.keys()].filter((id) => id !== selfId && (byId.get(id)?.liveness ?? 'dead') === 'dead') : [];
  for (const id of down) reference.delete(id);
  const lostAt = verdict ? undefined : (state.lostAt ?? now);
  const hasQuorum = lostAt === undefined || now - lostAt < lossGraceMs;
  return { state: { reference, signature, changedAt, lostAt }, hasQuorum, down };
}
