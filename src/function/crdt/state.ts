/**
 * The user-side CRDT state objects' common ground. A user function holds one replica of its
 * entity's CRDT: it changes it in place (`counter.increment(2)`), and this library sends the
 * change to the proxy as a *delta* (the protocol's `CrdtDelta`) in the command's reply; the proxy
 * merges it into the replicated CRDT and sends changes made elsewhere back as deltas, which are
 * applied here. So every state object tracks the local delta since the last reply, applies an
 * incoming delta, and can describe its whole value as a delta (what the proxy sends in `init`).
 *
 * This is the protocol's view, not a full CRDT: merging, dots and pruning live in the proxy
 * (`src/crdt`, which this layer must not import).
 *
 * Elements of sets and keys of maps travel as `google.protobuf.Any`: protobuf messages by their
 * type, primitives as `p.cloudstate.io/…`, other objects as JSON (./any-support.ts). Two
 * elements are the same element when their packed forms are byte for byte the same.
 */
import type { Any, CrdtDelta } from '../../protocol/index.js';
import { AnySupport, type Packable } from '../any-support.js';

/** What applying a delta needs from the entity: unpacking values, and creating nested CRDTs. */
export interface DeltaContext {
  /** Unpacks an element or key (the entity's AnySupport). */
  unpack(any: Any): unknown;
  /** A new, empty CRDT of the delta's type (ORMap values). */
  create(delta: CrdtDelta): CrdtState;
}

/** The names of the CRDT types, as the `CrdtDelta` oneof names them. */
export type CrdtKind = 'gcounter' | 'pncounter' | 'gset' | 'orset' | 'lwwregister' | 'flag' | 'ormap' | 'vote';

/** Packing needs no protos: message instances know their type; primitives and JSON need none. */
const packer = new AnySupport([]);

/** `value` packed as an `Any` (a protobuf message, a primitive as `p.cloudstate.io/…`, else JSON). */
export function packValue(value: unknown): Any {
  return packer.pack(value as Packable);
}

/** The identity of a packed value: its type URL and bytes. */
export function keyOfAny(any: Any): string {
  return `${any.type_url ?? ''}|${Buffer.from(any.value ?? new Uint8Array(0)).toString('base64')}`;
}

/** A value with its packed form and identity, as sets and maps keep their elements. */
export interface Packed<T> {
  readonly value: T;
  readonly any: Any;
  readonly key: string;
}

/** Packs `value` once, for a set or map. */
export function packed<T>(value: T): Packed<T> {
  const any = packValue(value);
  return { value, any, key: keyOfAny(any) };
}

/** An element received in a delta: unpacked with the entity's protos. */
export function unpacked(any: Any, context: DeltaContext): Packed<unknown> {
  return { value: context.unpack(any), any, key: keyOfAny(any) };
}

/** Puts back what one local change changed in a state's value (not its delta). */
export type Undo = () => void;

/**
 * A CRDT replica held by the user function. Subclasses change it only through their methods, so
 * that every change lands in the delta, and report each change with `changed(undo)`: that is how
 * an ORMap learns that one of its values changed, and how a handler's instance keeps an undo log
 * to roll a failed handler back in the time of its changes, with no copy of the state.
 *
 * The undos restore values only: a handler starts with no local delta (every reply takes it),
 * so after undoing its changes the instance resets the delta.
 */
export abstract class CrdtState {
  /** Which CRDT this is (the `CrdtDelta` case it reads and writes). */
  abstract readonly kind: CrdtKind;
  #listener: ((undo: Undo) => void) | undefined;

  /** @internal Gives `listener` the undo of each local change (not of applied deltas); undefined stops it. One listener: the owner's. */
  onChange(listener: ((undo: Undo) => void) | undefined): void {
    this.#listener = listener;
  }

  /** Subclasses call this after each local change, with what puts its value back. */
  protected changed(undo: Undo): void {
    this.#listener?.(undo);
  }

  /** Whether anything changed since the last reply (i.e. there is a delta to send). */
  abstract get hasDelta(): boolean;

  /** @internal The change since the last reply, or undefined when there is none. */
  abstract delta(): CrdtDelta | undefined;

  /** @internal Forgets the change since the last reply (after it was sent, or rolled back). */
  abstract resetDelta(): void;

  /** @internal Applies a delta from the proxy (a replicated change, or the initial state). Throws on an incompatible delta. */
  abstract applyDelta(delta: CrdtDelta, context: DeltaContext): void;

  /** @internal The whole value as a delta: applied to a new instance it gives this value. */
  abstract fullDelta(): CrdtDelta;

  /** @internal The delta of this type that changes nothing (an ORMap entry added without changes). */
  emptyDelta(): CrdtDelta {
    return { [this.kind]: {} } as CrdtDelta;
  }

  /** The delta's payload of this type; throws when the delta is of another type. */
  protected deltaOf<K extends CrdtKind>(delta: CrdtDelta, kind: K): NonNullable<CrdtDelta[K]> {
    const found = delta[kind];
    if (found === undefined || found === null) {
      const actual = Object.keys(delta).find((key) => (delta as Record<string, unknown>)[key] != null) ?? 'nothing';
      throw new Error(`incompatible CRDT delta: a ${actual} delta for a ${kind}`);
    }
    return found as NonNullable<CrdtDelta[K]>;
  }
}
