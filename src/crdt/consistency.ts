/**
 * Read and write consistency: how many replicas (this node included) must have a write, or
 * answer a read, before the call completes (Akka Distributed Data's `WriteLocal`,
 * `WriteMajority`, `WriteAll`; the Cloudstate protocol's `CrdtWriteConsistency` LOCAL,
 * MAJORITY, ALL). Counted over the members the cluster knows, reachable or not (as Akka
 * does), so a node cut off in a minority cannot complete a majority write. Pure.
 */

export type Consistency = 'local' | 'majority' | 'all';

/** Replicas required, this node included, out of `members` (this node included). */
export function requiredReplicas(consistency: Consistency, members: number): number {
  const n = Math.max(1, members);
  switch (consistency) {
    case 'local':
      return 1;
    case 'majority':
      return Math.floor(n / 2) + 1;
    case 'all':
      return n;
  }
}
