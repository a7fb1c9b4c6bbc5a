/**
 * Creating the CRDT a delta is about: the proxy sends a delta for an entity (or ORMap entry)
 * that has no state yet, and the delta's case names the type.
 */
import type { Any, CrdtDelta } from '../../protocol/index.js';
import { GCounter, PNCounter } from './counters.js';
import { Flag } from './flag.js';
import { LWWRegister } from './lww-register.js';
import { ORMap } from './ormap.js';
import { GSet, ORSet } from './sets.js';
import type { CrdtState, DeltaContext } from './state.js';
import { Vote } from './vote.js';

/** A new, empty CRDT of the type of `delta` (throws on an empty delta). */
export function crdtForDelta(delta: CrdtDelta): CrdtState {
  if (delta.gcounter) return new GCounter();
  if (delta.pncounter) return new PNCounter();
  if (delta.gset) return new GSet();
  if (delta.orset) return new ORSet();
  if (delta.lwwregister) return new LWWRegister();
  if (delta.flag) return new Flag();
  if (delta.ormap) return new ORMap();
  if (delta.vote) return new Vote();
  throw new Error('incompatible CRDT delta: no CRDT type set');
}

/** The context deltas are applied in, with `unpack` for elements and keys. */
export function deltaContext(unpack: (any: Any) => unknown): DeltaContext {
  return { unpack, create: crdtForDelta };
}

/** A new CRDT holding the value `delta` describes (the state in `CrdtInit`), with no delta of its own. */
export function crdtFromDelta(delta: CrdtDelta, context: DeltaContext): CrdtState {
  const state = context.create(delta);
  state.applyDelta(delta, context);
  state.resetDelta();
  return state;
}
