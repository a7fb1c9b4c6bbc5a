/**
 * Pruning of removed nodes' entries, as decisions (after Akka Distributed Data's
 * `PruningState` and its replicator's pruning rounds). A CRDT keeps per-node entries (a
 * counter per node, dots per node); once a member is removed for good, its entries can be
 * folded into another node's so state does not grow with every node that ever existed.
 * Doing that safely takes two phases, carried with each key's data and merged like it:
 *
 * ```
 *   (none) ──leader sees data from a removed node──► initialized{owner, seen}
 *          ──every member has merged it (in seen)──► performed{obsoleteAt}   (owner prunes)
 *          ──obsoleteAt passed──► (marker dropped)
 * ```
 *
 * `seen` grows as members merge the marker (and with it their copy of the removed node's
 * entries, which then flow to the owner): only when everyone has seen it can the owner fold
 * the removed node's entries into its own without losing any. From `performed` on, data that
 * still carries the removed node is cleaned (`pruningCleanup`) before it is merged, so a
 * late copy cannot bring the entries back. Markers are dropped after `obsoleteAt`; data from a
 * replica cut off for longer than that could reintroduce the entries (Akka's
 * `max-pruning-dissemination` has the same bound). Pure.
 */
import type { AnyCrdt } from './types.js';

export type PruningState =
  | { readonly phase: 'initialized'; readonly owner: string; readonly seen: ReadonlySet<string> }
  | { readonly phase: 'performed'; readonly obsoleteAt: number };

export type PruningMap = ReadonlyMap<string, PruningState>;

/** The join of two pruning states of one removed node: performed beats initialized; two owners: the smaller id wins. */
export function mergePruningState(a: PruningState, b: PruningState): PruningState {
  if (a.phase === 'performed' && b.phase === 'performed') return a.obsoleteAt >= b.obsoleteAt ? a : b;
  if (a.phase === 'performed') return a;
  if (b.phase === 'performed') return b;
  if (a.owner !== b.owner) return a.owner < b.owner ? a : b;
  if ([...b.seen].every((n) => a.seen.has(n))) return a;
  return { phase: 'initialized', owner: a.owner, seen: new Set([...a.seen, ...b.seen]) };
}

export function mergePruning(a: PruningMap, b: PruningMap): PruningMap {
  if (b.size === 0) return a;
  if (a.size === 0) return b;
  const out = new Map(a);
  for (const [n, s] of b) {
    const mine = out.get(n);
    out.set(n, mine ? mergePruningState(mine, s) : s);
  }
  return out;
}

/** Removed nodes whose prune is performed (data from them must be cleaned before merging). */
export function performedNodes(p: PruningMap): string[] {
  const out: string[] = [];
  for (const [n, s] of p) if (s.phase === 'performed') out.push(n);
  return out;
}

/** What the pruning round should do for one key on this node. */
export type PruningStep =
  | { readonly kind: 'initialize'; readonly removed: string }
  | { readonly kind: 'see'; readonly removed: string }
  | { readonly kind: 'perform'; readonly removed: string }
  | { readonly kind: 'drop'; readonly removed: string };

/**
 * The steps for one key: the leader starts pruning nodes whose entries the data holds and
 * that were removed; every node adds itself to `seen`; the owner performs once every other
 * member has seen it; obsolete markers go.
 */
export function pruningSteps(args: {
  self: string;
  isLeader: boolean;
  /** Ids of the current members, this node included. */
  members: readonly string[];
  removedNodes: Iterable<string>;
  needsPruning: (node: string) => boolean;
  pruning: PruningMap;
  now: number;
}): PruningStep[] {
  const steps: PruningStep[] = [];
  if (args.isLeader) for (const r of args.removedNodes) if (!args.pruning.has(r) && args.needsPruning(r)) steps.push({ kind: 'initialize', removed: r });
  for (const [r, s] of args.pruning) {
    if (s.phase === 'performed') {
      if (s.obsoleteAt <= args.now) steps.push({ kind: 'drop', removed: r });
      continue;
    }
    if (s.owner !== args.self) {
      if (!s.seen.has(args.self)) steps.push({ kind: 'see', removed: r });
    } else if (args.members.every((m) => m === args.self || s.seen.has(m))) steps.push({ kind: 'perform', removed: r });
  }
  return steps;
}

/**
 * The key's data and markers after a round's `steps` on node `self`: `initialize` makes `self`
 * the owner, `see` adds `self` to the seen set, `perform` folds the removed node into `self`
 * (never for a node that is a member again) and marks it performed until `obsoleteAt`, `drop`
 * forgets an obsolete marker.
 */
export function applyPruningSteps<T extends AnyCrdt>(
  data: T,
  markers: PruningMap,
  steps: readonly PruningStep[],
  ctx: { self: string; memberIds: ReadonlySet<string>; obsoleteAt: number },
): { data: T; pruning: PruningMap } {
  const pruning = new Map<string, PruningState>(markers);
  let out = data;
  for (const s of steps) {
    const cur = pruning.get(s.removed);
    if (s.kind === 'initialize') pruning.set(s.removed, { phase: 'initialized', owner: ctx.self, seen: new Set() });
    else if (s.kind === 'see' && cur?.phase === 'initialized') pruning.set(s.removed, { ...cur, seen: new Set([...cur.seen, ctx.self]) });
    else if (s.kind === 'perform' && !ctx.memberIds.has(s.removed)) {
      out = out.prune(s.removed, ctx.self) as T;
      pruning.set(s.removed, { phase: 'performed', obsoleteAt: ctx.obsoleteAt });
    } else if (s.kind === 'drop') pruning.delete(s.removed);
  }
  return { data: out, pruning };
}

export function pruningToJSON(p: PruningMap): Record<string, unknown[]> | undefined {
  if (p.size === 0) return undefined;
  const out: Record<string, unknown[]> = {};
  for (const n of [...p.keys()].sort()) {
    const s = p.get(n)!;
    out[n] = s.phase === 'performed' ? ['p', s.obsoleteAt] : ['i', s.owner, [...s.seen].sort()];
  }
  return out;
}

export function pruningFromJSON(json: Record<string, unknown[]> | undefined): PruningMap {
  const out = new Map<string, PruningState>();
  for (const [n, s] of Object.entries(json ?? {})) {
    if (s[0] === 'p') out.set(n, { phase: 'performed', obsoleteAt: Number(s[1]) });
    else out.set(n, { phase: 'initialized', owner: String(s[1]), seen: new Set(s[2] as string[]) });
  }
  return out;
}
