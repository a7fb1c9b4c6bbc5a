/**
 * Where shards go: the two `ShardAllocationStrategy` implementations the coordinator can use.
 * Both are pure functions of their input (no clock, no randomness, no memory of earlier calls
 * beyond a cache of the last ring), so the same allocations give the same answer on any node,
 * and they never look at the requester's load or at time. They decide; the coordinator acts
 * (hands shards off, records allocations) and owns the rebalance interval.
 *
 * - `consistentHashing` (the default): a ketama ring (npm `hashring`, md5, `virtualNodes`
 *   points × 4 per region) over the live regions; a shard lives where the ring puts it. When
 *   a region joins, only the shards the ring now maps to it move: the fewest possible, and
 *   never between two regions that were already there. The spread is only as even as the
 *   ring (± a few per cent with the default 100 virtual nodes).
 * - `leastShards`: Akka's LeastShardAllocationStrategy (2.6.10+): allocate to the region with
 *   the fewest shards; rebalance in two phases to an optimal spread (at most one apart).
 */
import HashRing from 'hashring';
import { CloudstateError } from '../core/index.js';
import { compareIds as byId } from './shard-id.js';
import type { Allocations, RegionId, ShardAllocationStrategy, ShardId } from './types.js';

export interface ConsistentHashingOptions {
  /** Ketama virtual nodes per region (each gives 4 ring points). Default 100. */
  readonly virtualNodes?: number;
  /** At most this many shards moving at once, counting those already in progress. Default 20. */
  readonly maxSimultaneousRebalance?: number;
  /**
   * Or this fraction of all shards, when that is more (default 0.25): a member joining a cluster
   * of any size then gets its share in one or two rounds (a third of 1,000 shards: 2 rounds of
   * 250) instead of dozens of rounds of 20. Set 0 for the absolute limit alone.
   */
  readonly relativeLimit?: number;
}

export interface LeastShardsOptions {
  /** At most this many shards per rebalance round. Default 20. */
  readonly absoluteLimit?: number;
  /** At most this fraction of all shards per rebalance round (at least one shard). Default 0.1. */
  readonly relativeLimit?: number;
}


function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new CloudstateError('ERR_SHARDING_CONFIG', `${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/**
 * The default strategy: a shard goes to the region the consistent-hash ring of the live regions
 * (the keys of `allocations`) maps its id to; the requester is ignored (with no live region at
 * all, the requester gets it, as in Akka). `rebalance` returns the shards hosted elsewhere than
 * where the ring now puts them, in id order, at most max(`maxSimultaneousRebalance`,
 * `relativeLimit` × all shards) minus the shards already in progress, never one in progress. Throws `ERR_SHARDING_CONFIG` on a bad option.
 */
export function consistentHashing(options: ConsistentHashingOptions = {}): ShardAllocationStrategy {
  const virtualNodes = positiveInteger('virtualNodes', options.virtualNodes ?? 100);
  const maxSimultaneous = positiveInteger('maxSimultaneousRebalance', options.maxSimultaneousRebalance ?? 20);
  const relativeLimit = options.relativeLimit ?? 0.25;
  if (!(relativeLimit >= 0 && relativeLimit <= 1)) throw new CloudstateError('ERR_SHARDING_CONFIG', `relativeLimit must be between 0 and 1, got ${String(relativeLimit)}`);
  // The ring depends only on the set of regions: keep the last one (membership rarely changes).
  let cached: { key: string; ring: HashRing } | undefined;
  const ringOf = (allocations: Allocations): HashRing | undefined => {
    // Sorted, so that the ring (and ties between equal points) do not depend on map order.
    const regions = [...allocations.keys()].sort(byId);
    if (regions.length === 0) return undefined;
    const key = JSON.stringify(regions);
    if (cached?.key !== key) {
      // Each region's point count is given explicitly: with a plain list, hashring computes it
      // as floor(1/n × vnodes × n) in floating point, which is vnodes - 1 for some n (3, with
      // 100), so a join would drop a point of every old region and move shards between them.
      // A per-region count different from the 'vnode count' option (0 here) is taken as is.
      const servers = Object.fromEntries(regions.map((r) => [r, { vnodes: virtualNodes }]));
      cached = { key, ring: new HashRing(servers, 'md5', { 'vnode count': 0, replicas: 4 }) };
    }
    return cached.ring;
  };
  return {
    async allocateShard(requester: RegionId, shardId: ShardId, allocations: Allocations): Promise<RegionId> {
      return ringOf(allocations)?.get(shardId) ?? requester;
    },
    async rebalance(allocations: Allocations, inProgress: ReadonlySet<ShardId>): Promise<ShardId[]> {
      const ring = ringOf(allocations);
      let total = 0;
      for (const shards of allocations.values()) total += shards.length;
      const budget = Math.max(maxSimultaneous, Math.ceil(relativeLimit * total)) - inProgress.size;
      if (ring === undefined || budget <= 0) return [];
      const misplaced: ShardId[] = [];
      for (const [region, shards] of allocations) {
        for (const shard of shards) if (!inProgress.has(shard) && ring.get(shard) !== region) misplaced.push(shard);
      }
      return misplaced.sort(byId).slice(0, budget);
    },
  };
}

interface Load {
  readonly region: RegionId;
  /** The region's shards in the order given; the ones to give away are taken from the front. */
  readonly shards: readonly ShardId[];
  count: number;
}

/** Live regions with their shard counts, fewest first, ties by region id. */
function loadsOf(allocations: Allocations): Load[] {
  return [...allocations].map(([region, shards]) => ({ region, shards, count: shards.length })).sort((a, b) => a.count - b.count || byId(a.region, b.region));
}

/**
 * Akka's LeastShardAllocationStrategy. `allocateShard` picks the region with the fewest shards,
 * ties by lowest region id (never favouring the requester, so concurrent requesters agree).
 * `rebalance` (nothing while any rebalance is in progress: the counts would be stale) moves
 * shards towards `optimal = ceil(total / regions)`:
 *
 * 1. phase one: shards above `optimal`, one at a time from the currently most loaded region;
 * 2. if none: phase two, for the regions still two or more below `optimal` (rounding up can
 *    leave them there), one shard from each region at `optimal`, as many as they lack.
 *
 * Moved shards are reallocated by `allocateShard` to the least loaded, so two rounds reach a
 * spread of at most one when the limit allows. Each round moves at most
 * `max(1, min(absoluteLimit, floor(relativeLimit × total)))` shards.
 */
export function leastShards(options: LeastShardsOptions = {}): ShardAllocationStrategy {
  const absoluteLimit = positiveInteger('absoluteLimit', options.absoluteLimit ?? 20);
  const relativeLimit = options.relativeLimit ?? 0.1;
  if (!(relativeLimit > 0 && relativeLimit <= 1)) throw new CloudstateError('ERR_SHARDING_CONFIG', `relativeLimit must be in (0, 1], got ${String(relativeLimit)}`);
  return {
    async allocateShard(requester: RegionId, _shardId: ShardId, allocations: Allocations): Promise<RegionId> {
      return loadsOf(allocations)[0]?.region ?? requester;
    },
    async rebalance(allocations: Allocations, inProgress: ReadonlySet<ShardId>): Promise<ShardId[]> {
      if (inProgress.size > 0) return [];
      const loads = loadsOf(allocations);
      const total = loads.reduce((sum, l) => sum + l.count, 0);
      if (loads.length < 2 || total === 0) return [];
      const limit = Math.max(1, Math.min(absoluteLimit, Math.floor(relativeLimit * total)));
      const optimal = Math.ceil(total / loads.length);
      const taken = new Map<RegionId, number>();
      const take = (load: Load): ShardId => {
        const n = taken.get(load.region) ?? 0;
        taken.set(load.region, n + 1);
        load.count--;
        return load.shards[n]!;
      };
      const selected: ShardId[] = [];
      // Phase one: the excess above optimal, always from the most loaded (ties: lowest id).
      for (;;) {
        if (selected.length === limit) return selected;
        let most: Load | undefined;
        for (const l of loads) if (l.count > optimal && (most === undefined || l.count > most.count)) most = l;
        if (most === undefined) break;
        selected.push(take(most));
      }
      if (selected.length > 0) return selected;
      // Phase two: every region is at most optimal; fill those two or more below it.
      const lacking = loads.reduce((sum, l) => sum + Math.max(0, optimal - 1 - l.count), 0);
      for (const l of loads) {
        if (selected.length === Math.min(lacking, limit)) break;
        if (l.count >= optimal) selected.push(take(l));
      }
      return selected;
    },
  };
}
