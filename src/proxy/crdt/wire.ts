/**
 * Conversions between the protocol's CRDT deltas (`cloudstate.crdt.CrdtDelta`, elements and
 * keys as `Any`) and the CRDT layer's types (after the reference proxy's `WireTransformer`).
 * Pure: the node id, the wall clock and the voting members come in a `WireContext`.
 *
 * - `applyDelta`: a user function's delta (a state action's `update`) applied to a replica's
 *   state, as this node's operations (increments, adds, writes, votes by `self`).
 * - `stateAsDelta`: a whole state as one delta (the `init` message, ORMap entries added).
 * - `diffDelta`: what changed between the state the user function knows and a newer one
 *   (replicated changes pushed between commands); undefined when nothing it can see changed.
 *
 * A delta the state cannot take (another CRDT type, a GCounter decrement, a Flag switched off)
 * throws `IncompatibleDeltaError`: the entity crashes on it. Elements, ORMap keys and register
 * values are `Any`s, stored as the base64 of their protobuf encoding (equal bytes, equal
 * elements), so every node reads them back alike.
 */
import Long from 'long';
import { CloudstateError } from '../../core/index.js';
import { Flag, GCounter, GSet, LWWRegister, ORMap, ORSet, PNCounter, Vote, bytesToElement, elementToBytes, emptyCrdt } from '../../crdt/index.js';
import type { AnyCrdt, LWWClock } from '../../crdt/index.js';
import { int64ToNumber, protocolType } from '../../protocol/index.js';
import type { Any, CrdtDelta, Int64, ORMapEntryDelta } from '../../protocol/index.js';

/** The code of `IncompatibleDeltaError`. */
export const INCOMPATIBLE_DELTA = 'ERR_PROXY_CRDT_INCOMPATIBLE_DELTA';

/** A delta (or a change) the CRDT cannot take. */
export class IncompatibleDeltaError extends CloudstateError {
  constructor(message: string) {
    super(INCOMPATIBLE_DELTA, message);
  }
}

export interface WireContext {
  /** This node's id: the node of every operation a user function's delta makes. */
  readonly self: string;
  /** Wall clock, ms (LWWRegister's default and reverse clocks). */
  readonly now: () => number;
  /** The members that count as voters (the cluster's up members), this node included. */
  readonly voters: () => Iterable<string>;
}

const anyType = () => protocolType('google.protobuf.Any');

/** The CRDT element for an `Any`: the base64 of its protobuf encoding. */
export function elementOf(any: Any | null | undefined): string {
  return bytesToElement(anyType().encode({ type_url: any?.type_url ?? '', value: any?.value ?? new Uint8Array(0) }).finish());
}

/** The `Any` an element stands for. */
export function anyOf(element: string): Any {
  const decoded = anyType().decode(elementToBytes(element)) as unknown as Any;
  return { type_url: decoded.type_url ?? '', value: decoded.value ?? new Uint8Array(0) };
}

/** The name of the delta's type (the oneof case set), or undefined for an empty delta. */
export function deltaKind(delta: CrdtDelta): AnyCrdt['kind'] | undefined {
  for (const kind of ['gcounter', 'pncounter', 'gset', 'orset', 'lwwregister', 'flag', 'ormap', 'vote'] as const) if (delta[kind]) return kind;
  return undefined;
}

/** The empty CRDT of the delta's type: the state a key starts from on its first update. */
export function emptyFor(delta: CrdtDelta): AnyCrdt {
  const kind = deltaKind(delta);
  if (kind === undefined) throw new IncompatibleDeltaError('empty delta: a CrdtDelta must set one of its types');
  return emptyCrdt(kind);
}

const clocks: readonly LWWClock[] = ['default', 'reverse', 'custom', 'custom-auto-increment'];

function mismatch(delta: string, crdt: AnyCrdt): IncompatibleDeltaError {
  return new IncompatibleDeltaError(`a ${delta} delta is incompatible with the CRDT, a ${crdt.kind}`);
}

/** A uint64 increment as a safe JS number; a value that reads negative as int64 is a decrement. */
function increment(value: Int64 | null | undefined): number {
  if (value === null || value === undefined) return 0;
  const long = Long.fromValue(value);
  if (long.toSigned().isNegative()) throw new IncompatibleDeltaError(`cannot decrement a GCounter (increment ${long.toSigned().toString()})`);
  const n = long.toNumber();
  if (!Number.isSafeInteger(n)) throw new IncompatibleDeltaError(`GCounter increment ${long.toString()} is beyond 2^53`);
  return n;
}

function change(value: Int64 | null | undefined): number {
  const n = int64ToNumber(value);
  if (!Number.isSafeInteger(n)) throw new IncompatibleDeltaError(`PNCounter change ${String(value)} is beyond 2^53`);
  return n;
}

/**
 * `delta` applied to `crdt` as this node's operations. Throws `IncompatibleDeltaError` when the
 * delta is of another type than `crdt` or asks what the type cannot do.
 */
export function applyDelta(crdt: AnyCrdt, delta: CrdtDelta, ctx: WireContext): AnyCrdt {
  const { self } = ctx;
  if (delta.gcounter) {
    if (!(crdt instanceof GCounter)) throw mismatch('GCounter', crdt);
    return crdt.increment(self, increment(delta.gcounter.increment));
  }
  if (delta.pncounter) {
    if (!(crdt instanceof PNCounter)) throw mismatch('PNCounter', crdt);
    return crdt.increment(self, change(delta.pncounter.change));
  }
  if (delta.gset) {
    if (!(crdt instanceof GSet)) throw mismatch('GSet', crdt);
    return (delta.gset.added ?? []).reduce((s, e) => s.add(elementOf(e)), crdt);
  }
  if (delta.orset) {
    if (!(crdt instanceof ORSet)) throw mismatch('ORSet', crdt);
    const d = delta.orset;
    let s = d.cleared ? crdt.clear() : crdt;
    for (const e of d.removed ?? []) s = s.remove(elementOf(e));
    for (const e of d.added ?? []) s = s.add(self, elementOf(e));
    return s;
  }
  if (delta.lwwregister) {
    if (!(crdt instanceof LWWRegister)) throw mismatch('LWWRegister', crdt);
    const d = delta.lwwregister;
    const clock = clocks[d.clock ?? 0] ?? 'default';
    return crdt.set(self, elementOf(d.value), ctx.now(), clock, clock.startsWith('custom') ? int64ToNumber(d.custom_clock_value) : undefined);
  }
  if (delta.flag) {
    if (!(crdt instanceof Flag)) throw mismatch('Flag', crdt);
    if (delta.flag.value) return crdt.switchOn();
    if (crdt.enabled) throw new IncompatibleDeltaError('cannot switch off a Flag that is on');
    return crdt;
  }
  if (delta.ormap) {
    if (!(crdt instanceof ORMap)) throw mismatch('ORMap', crdt);
    return applyMapDelta(crdt as ORMap, delta.ormap, ctx);
  }
  if (delta.vote) {
    if (!(crdt instanceof Vote)) throw mismatch('Vote', crdt);
    return crdt.vote(self, delta.vote.self_vote ?? false);
  }
  throw new IncompatibleDeltaError('empty delta: a CrdtDelta must set one of its types');
}

function applyMapDelta(map: ORMap, d: NonNullable<CrdtDelta['ormap']>, ctx: WireContext): ORMap {
  let m = d.cleared ? map.clear() : map;
  for (const k of d.removed ?? []) m = m.remove(elementOf(k));
  for (const entry of d.updated ?? []) {
    const key = elementOf(entry.key);
    const current = m.get(key);
    // As the reference proxy: a key no longer there (removed meanwhile) or holding another
    // type (removed and added again) ignores the update.
    if (current === undefined || !entry.delta) continue;
    try {
      m = m.update(ctx.self, key, current, (v) => applyDelta(v, entry.delta!, ctx));
    } catch (err) {
      if (!(err instanceof IncompatibleDeltaError)) throw err;
    }
  }
  for (const entry of d.added ?? []) {
    if (!entry.delta) throw new IncompatibleDeltaError('an ORMap entry was added without a delta');
    m = m.put(ctx.self, elementOf(entry.key), applyDelta(emptyFor(entry.delta), entry.delta, ctx).resetDelta());
  }
  return m;
}

/** `crdt`'s whole state as one delta (what a user function that knows nothing must apply). */
export function stateAsDelta(crdt: AnyCrdt, ctx: Pick<WireContext, 'self' | 'voters'>): CrdtDelta {
  if (crdt instanceof GCounter) return { gcounter: { increment: crdt.value } };
  if (crdt instanceof PNCounter) return { pncounter: { change: crdt.value } };
  if (crdt instanceof GSet) return { gset: { added: [...crdt.elements].map(anyOf) } };
  if (crdt instanceof ORSet) return { orset: { added: [...crdt.entries.keys()].map(anyOf) } };
  if (crdt instanceof LWWRegister) return { lwwregister: crdt.value === undefined ? {} : { value: anyOf(crdt.value) } };
  if (crdt instanceof Flag) return { flag: { value: crdt.enabled } };
  if (crdt instanceof ORMap) {
    const added: ORMapEntryDelta[] = [];
    for (const [k, v] of (crdt as ORMap).toMap()) added.push({ key: anyOf(k), delta: stateAsDelta(v, ctx) });
    return { ormap: { added } };
  }
  if (crdt instanceof Vote) return { vote: voteState(crdt, ctx) };
  throw new IncompatibleDeltaError(`no wire form for a ${(crdt as AnyCrdt).kind}`);
}

/** The Vote as the protocol reports it: this node's vote, and the tally over the voters. */
export function voteState(vote: Vote, ctx: Pick<WireContext, 'self' | 'voters'>): { self_vote: boolean; votes_for: number; total_voters: number } {
  const voters = [...ctx.voters()];
  const { votesFor, totalVoters } = vote.tally(voters);
  return { self_vote: voters.includes(ctx.self) && vote.voteOf(ctx.self), votes_for: votesFor, total_voters: totalVoters };
}

/**
 * The delta that takes a user function from `old` (the state it knows) to `next`; undefined
 * when nothing it can see changed. Throws `IncompatibleDeltaError` for a change no delta
 * expresses (another type, a GCounter going down, a Flag switched off, a GSet shrinking).
 */
export function diffDelta(old: AnyCrdt, next: AnyCrdt, ctx: Pick<WireContext, 'self' | 'voters'>): CrdtDelta | undefined {
  if (old === next) return undefined;
  if (old.kind !== next.kind) throw new IncompatibleDeltaError(`a ${old.kind} cannot change into a ${next.kind}`);
  if (next instanceof GCounter) {
    const inc = next.value - (old as GCounter).value;
    if (inc < 0) throw new IncompatibleDeltaError(`a GCounter went down from ${(old as GCounter).value} to ${next.value}`);
    return inc === 0 ? undefined : { gcounter: { increment: inc } };
  }
  if (next instanceof PNCounter) {
    const c = next.value - (old as PNCounter).value;
    return c === 0 ? undefined : { pncounter: { change: c } };
  }
  if (next instanceof GSet) {
    const before = (old as GSet).elements;
    const added = [...next.elements].filter((e) => !before.has(e));
    if (before.size + added.length > next.size) throw new IncompatibleDeltaError('a GSet lost elements');
    return added.length === 0 ? undefined : { gset: { added: added.map(anyOf) } };
  }
  if (next instanceof ORSet) return diffSet(old as ORSet, next);
  if (next instanceof LWWRegister) {
    return (old as LWWRegister).value === next.value ? undefined : { lwwregister: next.value === undefined ? {} : { value: anyOf(next.value) } };
  }
  if (next instanceof Flag) {
    if ((old as Flag).enabled && !next.enabled) throw new IncompatibleDeltaError('a Flag was switched off');
    return (old as Flag).enabled === next.enabled ? undefined : { flag: { value: next.enabled } };
  }
  if (next instanceof ORMap) return diffMap(old as ORMap, next as ORMap, ctx);
  if (next instanceof Vote) {
    const a = voteState(old as Vote, ctx);
    const b = voteState(next, ctx);
    return a.self_vote === b.self_vote && a.votes_for === b.votes_for && a.total_voters === b.total_voters ? undefined : { vote: b };
  }
  throw new IncompatibleDeltaError(`no wire form for a ${next.kind}`);
}

function diffSet(old: ORSet, next: ORSet): CrdtDelta | undefined {
  if (next.size === 0) return old.size === 0 ? undefined : { orset: { cleared: true } };
  const removed = [...old.entries.keys()].filter((e) => !next.has(e));
  const added = [...next.entries.keys()].filter((e) => !old.has(e));
  if (removed.length === 0 && added.length === 0) return undefined;
  // More operations than elements: clearing and adding them all is shorter.
  if (removed.length + added.length > next.size) return { orset: { cleared: true, added: [...next.entries.keys()].map(anyOf) } };
  return { orset: { removed: removed.map(anyOf), added: added.map(anyOf) } };
}

function diffMap(old: ORMap, next: ORMap, ctx: Pick<WireContext, 'self' | 'voters'>): CrdtDelta | undefined {
  if (next.size === 0) return old.size === 0 ? undefined : { ormap: { cleared: true } };
  const removed: Any[] = [];
  const updated: ORMapEntryDelta[] = [];
  const added: ORMapEntryDelta[] = [];
  const before = old.toMap();
  for (const [k, v] of next.toMap()) {
    const was = before.get(k);
    if (was === undefined) {
      added.push({ key: anyOf(k), delta: stateAsDelta(v, ctx) });
      continue;
    }
    let d: CrdtDelta | undefined;
    try {
      d = diffDelta(was, v, ctx);
    } catch (err) {
      if (!(err instanceof IncompatibleDeltaError)) throw err;
      // The key was removed and added again with another value: remove it, then add it.
      removed.push(anyOf(k));
      added.push({ key: anyOf(k), delta: stateAsDelta(v, ctx) });
      continue;
    }
    if (d) updated.push({ key: anyOf(k), delta: d });
  }
  for (const k of before.keys()) if (!next.has(k)) removed.push(anyOf(k));
  if (removed.length === 0 && updated.length === 0 && added.length === 0) return undefined;
  return { ormap: { removed, updated, added } };
}
