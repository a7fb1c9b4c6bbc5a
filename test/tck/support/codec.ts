/**
 * Encoding, decoding and comparing the messages the TCK looks at: the Cloudstate protocol
 * messages and the TCK models' payloads (inside `google.protobuf.Any`).
 *
 * Comparison is semantic and exact, like the reference TCK's comparison of generated message
 * classes: two messages are the same when every field has the same value, proto3 scalar
 * defaults count as unset (a peer may or may not write `false` or `""` on the wire), a
 * sub-message that is present differs from one that is absent, and an `Any` payload is
 * compared by its type URL and its decoded content when the TCK knows its type (bytes
 * otherwise). Owns no I/O.
 */
import { isDeepStrictEqual, inspect } from 'node:util';
import { fileURLToPath } from 'node:url';
import Long from 'long';
import { loadProtoFiles, protocolRoot, protobuf, TYPE_URL_PREFIX, typeNameOf } from '../../../src/protocol/index.js';
import type { Any } from '../../../src/protocol/index.js';

/** The directory of the TCK's model .proto files (the reflection service comes from the package's proto/). */
export const tckProtoDir = fileURLToPath(new URL('../proto', import.meta.url));

/** The TCK model protos, relative to `tckProtoDir`. */
export const tckModelFiles = [
  'cloudstate/tck/model/action.proto',
  'cloudstate/tck/model/valueentity.proto',
  'cloudstate/tck/model/eventsourced.proto',
  'cloudstate/tck/model/crdt.proto',
  'cloudstate/tck/model/eventlogeventing.proto',
] as const;

let root: protobuf.Root | undefined;
/** The TCK models, gRPC reflection and the well-known types, loaded once (snake_case field names). */
export function tckRoot(): protobuf.Root {
  root ??= loadProtoFiles([...tckModelFiles, 'grpc/reflection/v1alpha/reflection.proto', 'google/protobuf/empty.proto'], { includeDirs: [tckProtoDir] });
  return root;
}

/** A message type of the TCK models or of the protocol, by full name. */
export function messageType(fullName: string): protobuf.Type {
  const name = fullName.startsWith('.') ? fullName.slice(1) : fullName;
  for (const r of [tckRoot(), protocolRoot()]) {
    const found = r.lookup(name);
    if (found instanceof protobuf.Type) return found;
  }
  throw new Error(`unknown message type ${fullName}`);
}

/** Encodes `value` (a plain object, snake_case fields) as the message `typeName`. */
export function encode(typeName: string, value: object): Uint8Array {
  const type = messageType(typeName);
  return type.encode(type.fromObject(value)).finish();
}

/** Decodes `bytes` as `typeName` into a plain object (int64 as numbers, defaults left out). */
export function decode<T = Record<string, unknown>>(typeName: string, bytes: Uint8Array): T {
  const type = messageType(typeName);
  return type.toObject(type.decode(bytes), { longs: Number }) as T;
}

/** `value` packed as an `Any` of type `typeName` (type URL `type.googleapis.com/<typeName>`). */
export function any(typeName: string, value: object = {}): Any {
  return { type_url: TYPE_URL_PREFIX + typeName, value: encode(typeName, value) };
}

type Canonical = null | boolean | number | string | Canonical[] | { [key: string]: Canonical };

function isDefaultScalar(value: unknown): boolean {
  if (value === 0 || value === '' || value === false) return true;
  if (Long.isLong(value)) return (value as Long).isZero();
  if (value instanceof Uint8Array) return value.length === 0;
  return false;
}

function canonicalScalar(value: unknown): Canonical {
  if (Long.isLong(value)) return (value as Long).toString();
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value;
  if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString('base64')}`;
  return value as Canonical;
}

function canonicalAny(value: { type_url?: string; value?: Uint8Array }): Canonical {
  const typeUrl = value.type_url ?? '';
  const bytes = value.value ?? new Uint8Array();
  let payloadType: protobuf.Type | undefined;
  try {
    payloadType = typeUrl ? messageType(typeNameOf(typeUrl)) : undefined;
  } catch {
    payloadType = undefined;
  }
  if (payloadType) {
    try {
      const fields = canonicalMessage(payloadType, payloadType.decode(bytes)) as Record<string, Canonical>;
      return { '@type': typeUrl, ...fields };
    } catch {
      // not decodable as its type: compare the bytes
    }
  }
  return { '@type': typeUrl, '@bytes': Buffer.from(bytes).toString('base64') };
}

function canonicalValue(field: protobuf.Field, value: unknown): Canonical {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    if (resolved.fullName === '.google.protobuf.Any') return canonicalAny(value as Any);
    return canonicalMessage(resolved, value as Record<string, unknown>);
  }
  if (resolved instanceof protobuf.Enum) return typeof value === 'number' ? (resolved.valuesById[value] ?? value) : (value as string);
  return canonicalScalar(value);
}

/** The canonical form of a message (decoded or built with `fromObject`), for comparison. */
export function canonicalMessage(type: protobuf.Type, message: Record<string, unknown> | protobuf.Message): Canonical {
  const out: Record<string, Canonical> = {};
  const fields = message as Record<string, unknown>;
  for (const field of type.fieldsArray) {
    field.resolve();
    const value = fields[field.name];
    if (value === null || value === undefined) continue;
    if (field.repeated) {
      const items = value as unknown[];
      if (items.length > 0) out[field.name] = items.map((item) => canonicalValue(field, item));
    } else if (field.map) {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length > 0) out[field.name] = Object.fromEntries(entries.sort().map(([k, v]) => [k, canonicalValue(field, v)]));
    } else if (field.resolvedType instanceof protobuf.Type || field.partOf) {
      out[field.name] = canonicalValue(field, value); // presence matters
    } else if (!isDefaultScalar(value)) {
      out[field.name] = canonicalValue(field, value);
    }
  }
  return out;
}

/** The canonical form of a plain object built for `typeName` (as a test writes an expectation). */
export function canonical(typeName: string, value: object): Canonical {
  const type = messageType(typeName);
  return canonicalMessage(type, type.fromObject(value));
}

/** The canonical form of the bytes of a `typeName` message (as it went over the wire). */
export function canonicalBytes(typeName: string, bytes: Uint8Array): Canonical {
  const type = messageType(typeName);
  return canonicalMessage(type, type.decode(bytes));
}

/** Readable one-line-per-level rendering of a canonical message, for failure messages. */
export function show(value: Canonical): string {
  return inspect(value, { depth: 12, breakLength: 120, compact: 6 });
}

/**
 * Throws, showing both sides, unless `actual` (canonical) equals `expected` (a plain object of
 * type `typeName`). `omit` names top-level fields to leave out of the comparison (the action
 * command's `metadata`, which carries the proxy's transport headers).
 */
export function assertSameMessage(what: string, typeName: string, expected: object, actual: Canonical, omit: readonly string[] = []): void {
  const want = withoutFields(canonical(typeName, expected), omit);
  const got = withoutFields(actual, omit);
  if (!isDeepStrictEqual(want, got)) {
    throw new Error(`${what}: unexpected ${typeName}\n  expected: ${show(want)}\n  found:    ${show(got)}`);
  }
}

/** A canonical message without its top-level fields named in `omit`. */
function withoutFields(value: Canonical, omit: readonly string[]): Canonical {
  if (omit.length === 0 || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => !omit.includes(k)));
}
