/**
 * A key's replicated value as the replicator stores and exchanges it: the data (a CRDT), or a
 * tombstone once deleted (deleted stays deleted: a tombstone wins every merge), plus the key's
 * pruning markers (./pruning.ts). Merging two envelopes merges the markers first, then cleans
 * both sides of every removed node whose prune was performed, then merges the data. Pure.
 */
import { CloudstateError } from '../core/index.js';
import { crdtFromJSON } from './codec.js';
import { mergePruning, performedNodes, pruningFromJSON, pruningToJSON } from './pruning.js';
import type { PruningMap } from './pruning.js';
import type { AnyCrdt, CrdtJson } from './types.js';

export interface Envelope {
  /** Undefined only when deleted. */
  readonly data: AnyCrdt | undefined;
  readonly deleted: boolean;
  readonly pruning: PruningMap;
}

const NO_PRUNING: PruningMap = new Map();

/** The tombstone of a deleted key. */
export const DELETED: Envelope = Object.freeze({ data: undefined, deleted: true, pruning: NO_PRUNING });

export function envelopeOf(data: AnyCrdt, pruning: PruningMap = NO_PRUNING): Envelope {
  return { data, deleted: false, pruning };
}

/** Removes from `data` what nodes whose prune was performed contributed. */
export function cleaned(data: AnyCrdt, pruning: PruningMap): AnyCrdt {
  let out = data;
  for (const n of performedNodes(pruning)) if (out.needPruningFrom(n)) out = out.pruningCleanup(n);
  return out;
}

/** Throws `ERR_CRDT_TYPE_MISMATCH` unless both are of one type. */
export function checkSameKind(key: string, a: AnyCrdt, b: AnyCrdt): void {
  if (a.kind !== b.kind) throw new CloudstateError('ERR_CRDT_TYPE_MISMATCH', `key ${JSON.stringify(key)} holds a ${a.kind}, not a ${b.kind}`);
}

/** The join of two envelopes of `key`. */
export function mergeEnvelopes(key: string, a: Envelope | undefined, b: Envelope): Envelope {
  if (!a) return b.data ? { ...b, data: cleaned(b.data, b.pruning) } : b;
  if (a.deleted || b.deleted) return DELETED;
  const pruning = mergePruning(a.pruning, b.pruning);
  checkSameKind(key, a.data!, b.data!);
  const data = cleaned(a.data!, pruning).merge(cleaned(b.data!, pruning));
  return { data, deleted: false, pruning };
}

/** `env` with a delta received from a replica merged in (cleaned first). */
export function applyDelta(key: string, env: Envelope | undefined, delta: AnyCrdt): Envelope {
  if (env?.deleted) return env;
  if (!env) return envelopeOf(delta);
  checkSameKind(key, env.data!, delta);
  return { data: env.data!.mergeDelta(cleaned(delta, env.pruning)), deleted: false, pruning: env.pruning };
}

export interface EnvelopeJson {
  d?: CrdtJson;
  x?: 1;
  p?: Record<string, unknown[]>;
}

export function envelopeToJSON(env: Envelope): EnvelopeJson {
  if (env.deleted) return { x: 1 };
  const p = pruningToJSON(env.pruning);
  return p ? { d: env.data!.toJSON(), p } : { d: env.data!.toJSON() };
}

export function envelopeFromJSON(json: EnvelopeJson): Envelope {
  if (json.x === 1) return DELETED;
  if (!json.d) throw new CloudstateError('ERR_CRDT_DECODE', 'an envelope with neither data nor a tombstone');
  return { data: crdtFromJSON(json.d), deleted: false, pruning: pruningFromJSON(json.p) };
}
