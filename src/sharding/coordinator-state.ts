/**
 * The coordinator's state as a pure reducer (after Akka's `ShardCoordinator.State.updated`):
 * which regions are registered and which shards each hosts. The coordinator singleton folds
 * every decision into it as an event, before acting on it, and rebuilds it from the regions'
 * reports after a fail-over. This module owns the rules and the invariants, nothing else: no
 * messaging, no timers, no allocation policy (that is `allocation.ts`).
 *
 * Invariants, checked after every step (a violation is a bug, thrown as `ERR_SHARDING_INVARIANT`):
 * every allocated shard's region is registered and lists it; every shard a region lists maps
 * back to that region. States are immutable: each step returns new maps and shares nothing
 * mutable with its input.
 */
import { CloudstateError } from '../core/index.js';
import { compareIds as byId } from './shard-id.js';
import type { Allocations, RegionId, ShardId } from './types.js';

export interface CoordinatorState {
  /** Every registered region and the shards it hosts (empty when it hosts none). */
  readonly regions: ReadonlyMap<RegionId, ReadonlySet<ShardId>>;
  /** Every allocated shard and its region. A shard not here is unallocated. */
  readonly shards: ReadonlyMap<ShardId, RegionId>;
}

export type CoordinatorEvent =
  /** A region announced itself; it hosts nothing yet. */
  | { readonly type: 'region-registered'; readonly region: RegionId }
  /** A region's node left or was downed: its shards become unallocated. */
  | { readonly type: 'region-terminated'; readonly region: RegionId }
  /** The shard, unallocated, now lives in the (registered) region. */
  | { readonly type: 'shard-allocated'; readonly shard: ShardId; readonly region: RegionId }
  /** The shard's hand-off finished: it is unallocated until its next allocation. */
  | { readonly type: 'shard-home-deallocated'; readonly shard: ShardId };

export const emptyCoordinatorState: CoordinatorState = { regions: new Map(), shards: new Map() };

function violation(message: string): CloudstateError {
  return new CloudstateError('ERR_SHARDING_INVARIANT', message);
}

/** Throws `ERR_SHARDING_INVARIANT` unless `shards` and `regions` describe the same allocation. */
export function checkInvariants(state: CoordinatorState): void {
  let listed = 0;
  for (const [region, shards] of state.regions) {
    for (const shard of shards) {
      const owner = state.shards.get(shard);
      if (owner !== region) throw violation(`region ${region} lists shard ${shard}, which maps to ${owner ?? 'no region'}`);
    }
    listed += shards.size;
  }
  // Each listed shard maps back to its lister, so the lists are disjoint; equal sizes then
  // mean every allocated shard is listed by a registered region.
  if (listed !== state.shards.size) {
    for (const [shard, region] of state.shards) {
      if (state.regions.get(region)?.has(shard) !== true) throw violation(`shard ${shard} maps to region ${region}, which does not list it`);
    }
  }
}

/**
 * The state after `event`; `state` is not changed. Throws `ERR_SHARDING_INVARIANT` when the
 * event does not apply: registering a registered region, terminating an unknown one,
 * allocating an allocated shard or allocating to an unknown region, deallocating an
 * unallocated shard; or (a bug here) when the result breaks an invariant.
 */
export function updated(state: CoordinatorState, event: CoordinatorEvent): CoordinatorState {
  const regions = new Map(state.regions);
  const shards = new Map(state.shards);
  switch (event.type) {
    case 'region-registered':
      if (regions.has(event.region)) throw violation(`region ${event.region} is already registered`);
      regions.set(event.region, new Set());
      break;
    case 'region-terminated': {
      const hosted = regions.get(event.region);
      if (hosted === undefined) throw violation(`region ${event.region} is not registered`);
      regions.delete(event.region);
      for (const shard of hosted) shards.delete(shard);
      break;
    }
    case 'shard-allocated': {
      const owner = shards.get(event.shard);
      if (owner !== undefined) throw violation(`shard ${event.shard} is already allocated to region ${owner}`);
      const hosted = regions.get(event.region);
      if (hosted === undefined) throw violation(`cannot allocate shard ${event.shard} to region ${event.region}: not registered`);
      regions.set(event.region, new Set(hosted).add(event.shard));
      shards.set(event.shard, event.region);
      break;
    }
    case 'shard-home-deallocated': {
      const owner = shards.get(event.shard);
      if (owner === undefined) throw violation(`shard ${event.shard} is not allocated`);
      const hosted = new Set(regions.get(owner));
      hosted.delete(event.shard);
      regions.set(owner, hosted);
      shards.delete(event.shard);
      break;
    }
  }
  const next: CoordinatorState = { regions, shards };
  checkInvariants(next);
  return next;
}

/** The state as an allocation strategy sees it: every registered region and its shards (sorted by id). */
export function allocations(state: CoordinatorState): Allocations {
  const result = new Map<RegionId, readonly ShardId[]>();
  for (const [region, shards] of state.regions) result.set(region, [...shards].sort(byId));
  return result;
}

/** A rebuilt state and the shards that more than one region claimed (sorted, each once). */
export interface RebuildResult {
  readonly state: CoordinatorState;
  readonly conflicts: ShardId[];
}

/**
 * Rebuilds the state after a coordinator fail-over from what the regions report they host.
 * Every reporting region is registered (a region reported twice: its claims are merged). A
 * shard claimed by two or more regions goes to the claimant with the lowest region id
 * (code-unit order), whatever the order of the reports, and is listed in `conflicts`: the
 * caller must have the other claimants stop it (hand it off) before it takes commands there.
 */
export function rebuild(reports: readonly { readonly region: RegionId; readonly shards: readonly ShardId[] }[]): RebuildResult {
  const claims = new Map<ShardId, RegionId>();
  const conflicts = new Set<ShardId>();
  const regions = new Map<RegionId, Set<ShardId>>();
  for (const { region } of reports) regions.set(region, new Set());
  for (const { region, shards } of reports) {
    for (const shard of shards) {
      const owner = claims.get(shard);
      if (owner === undefined || owner === region) {
        claims.set(shard, region);
        continue;
      }
      conflicts.add(shard);
      if (byId(region, owner) < 0) claims.set(shard, region);
    }
  }
  for (const [shard, region] of claims) regions.get(region)!.add(shard);
  const state: CoordinatorState = { regions, shards: claims };
  checkInvariants(state);
  return { state, conflicts: [...conflicts].sort(byId) };
}
