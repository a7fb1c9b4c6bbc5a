/**
 * Serialization of CRDT states (and deltas, which are states) to bytes: a version byte, then
 * the canonical JSON of `toJSON()` (keys in a fixed order, contexts compacted), so two equal
 * states always encode to the same bytes and a digest of the bytes compares replicas. JSON is
 * compact enough here (measured in benchmarks/crdt.ts); the version byte lets a binary format
 * replace it without breaking stored data.
 */
import { CloudstateError } from '../core/index.js';
import { Flag } from './flag.js';
import { GCounter } from './gcounter.js';
import { GSet } from './gset.js';
import { LWWRegister } from './lww-register.js';
import { ORMap } from './ormap.js';
import { ORSet } from './orset.js';
import { PNCounter } from './pncounter.js';
import type { AnyCrdt, CrdtJson, CrdtKind } from './types.js';
import { Vote } from './vote.js';

/** The codec's format version (first byte of every encoding). */
export const CRDT_CODEC_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The state from its `toJSON()` form. Throws `ERR_CRDT_DECODE` on an unknown tag. */
export function crdtFromJSON(json: CrdtJson): AnyCrdt {
  // The JSON shapes are validated by each type's fromJSON tag check; field shapes are trusted
  // (the bytes come from this codec on another member).
  const j = json as never;
  switch (json.t) {
    case 'gc':
      return GCounter.fromJSON(j);
    case 'pn':
      return PNCounter.fromJSON(j);
    case 'gs':
      return GSet.fromJSON(j);
    case 'os':
      return ORSet.fromJSON(j);
    case 'lw':
      return LWWRegister.fromJSON(j);
    case 'fl':
      return Flag.fromJSON(j);
    case 'om':
      return ORMap.fromJSON(j, crdtFromJSON);
    case 'vo':
      return Vote.fromJSON(j);
    default:
      throw new CloudstateError('ERR_CRDT_DECODE', `unknown CRDT tag ${JSON.stringify(json.t)}`);
  }
}

/** The canonical JSON text of a state. */
export function crdtToText(crdt: AnyCrdt): string {
  return JSON.stringify(crdt.toJSON());
}

/** Encodes a state (or delta) to bytes. */
export function encodeCrdt(crdt: AnyCrdt): Uint8Array {
  const body = encoder.encode(crdtToText(crdt));
  const out = new Uint8Array(body.byteLength + 1);
  out[0] = CRDT_CODEC_VERSION;
  out.set(body, 1);
  return out;
}

/** Decodes bytes from `encodeCrdt`. Throws `ERR_CRDT_DECODE` on another version or malformed input. */
export function decodeCrdt(bytes: Uint8Array): AnyCrdt {
  if (bytes[0] !== CRDT_CODEC_VERSION) throw new CloudstateError('ERR_CRDT_DECODE', `unknown CRDT codec version ${String(bytes[0])}`);
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes.subarray(1)));
  } catch (err) {
    throw new CloudstateError('ERR_CRDT_DECODE', 'malformed CRDT encoding', { cause: err });
  }
  if (typeof json !== 'object' || json === null || typeof (json as { t?: unknown }).t !== 'string') throw new CloudstateError('ERR_CRDT_DECODE', 'malformed CRDT encoding: no type tag');
  return crdtFromJSON(json as CrdtJson);
}

/** True when both states are the same state (canonical encodings equal). */
export function crdtEquals(a: AnyCrdt, b: AnyCrdt): boolean {
  return a === b || crdtToText(a) === crdtToText(b);
}

/** The empty state of a kind. */
export function emptyCrdt(kind: CrdtKind): AnyCrdt {
  switch (kind) {
    case 'gcounter':
      return GCounter.empty;
    case 'pncounter':
      return PNCounter.empty;
    case 'gset':
      return GSet.empty;
    case 'orset':
      return ORSet.empty;
    case 'lwwregister':
      return LWWRegister.empty;
    case 'flag':
      return Flag.empty;
    case 'ormap':
      return ORMap.empty();
    case 'vote':
      return Vote.empty;
  }
}
