/**
 * How entity behaviours turn events and states into bytes for storage, and the JSON default.
 * This module owns the serializer contracts and the default codec only; it must not decide
 * what happens when (de)serialization fails (the behaviours map that to a command failure or
 * a recovery failure).
 */

/** Encodes and decodes an entity's state (snapshots, durable state). */
export interface StateSerializer<S> {
  encodeState(state: S): Uint8Array;
  decodeState(bytes: Uint8Array): S;
  /** Stored beside the state (snapshot or value manifest); default `'state'` ('json' for the JSON default). */
  readonly stateManifest?: string;
}

/** Encodes and decodes an event-sourced entity's events and state. */
export interface EventSerializer<E, S> extends StateSerializer<S> {
  /** The event as bytes, with a manifest naming what it is (stored as `PersistentRepr.manifest`). */
  encodeEvent(event: E): { payload: Uint8Array; manifest: string };
  /** The inverse of `encodeEvent`, given the stored payload and manifest. */
  decodeEvent(payload: Uint8Array, manifest: string): E;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** JSON text as UTF-8 bytes; throws `TypeError` for a value JSON cannot represent (undefined, a function). */
export function encodeJson(value: unknown): Uint8Array {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`a ${typeof value} cannot be serialized as JSON`);
  return utf8Encoder.encode(text);
}

/** The inverse of `encodeJson`; throws on bytes that are not UTF-8 JSON. */
export function decodeJson<T>(bytes: Uint8Array): T {
  return JSON.parse(utf8Decoder.decode(bytes)) as T;
}

/** `event.type` when the event is an object with a string `type`, else `'json'`. */
function manifestOf(event: unknown): string {
  const type = typeof event === 'object' && event !== null ? (event as { type?: unknown }).type : undefined;
  return typeof type === 'string' ? type : 'json';
}

/**
 * The default serializer: events and states as JSON (so they must be JSON-representable:
 * no `undefined` at the top, no Map, no bigint). The event manifest is `event.type` when the
 * event is an object with a string `type`, else `'json'`; decoding ignores the manifest.
 */
export function jsonSerializer<E, S>(): EventSerializer<E, S> {
  return {
    encodeEvent: (event) => ({ payload: encodeJson(event), manifest: manifestOf(event) }),
    decodeEvent: (payload) => decodeJson<E>(payload),
    encodeState: (state) => encodeJson(state),
    decodeState: (bytes) => decodeJson<S>(bytes),
    stateManifest: 'json',
  };
}
