/**
 * Values in `google.protobuf.Any`, as Cloudstate support libraries write them (node-support's
 * conventions, so that state and events stay readable across libraries):
 *
 * - protobuf messages: `type.googleapis.com/<full name>`, the message's bytes;
 * - JSON values: `json.cloudstate.io/<name>`, the JSON text as field 1 (a string) of the value;
 * - primitives: `p.cloudstate.io/string|bytes|int64|bool|double`, the value as field 1.
 *
 * Owns the encodings only; which types exist comes from the protobufjs roots it is given.
 */
import Long from 'long';
import { JSON_TYPE_URL_PREFIX, PRIMITIVE_TYPE_URL_PREFIX, TYPE_URL_PREFIX, protobuf, type Any } from '../protocol/index.js';

export { JSON_TYPE_URL_PREFIX, PRIMITIVE_TYPE_URL_PREFIX };

/** The primitive types a `p.cloudstate.io/` Any can hold. */
export type PrimitiveType = 'string' | 'bytes' | 'int64' | 'bool' | 'double';
const WIRE_TYPES: Record<PrimitiveType, number> = { string: 2, bytes: 2, int64: 0, bool: 0, double: 1 };

/** A protobufjs message instance (made by `Type.create`, `fromObject` or `decode`): it knows its type. */
export type ProtobufMessage = protobuf.Message<object>;

/** What `AnySupport.pack` accepts: a protobuf message, a primitive, or a JSON-serializable object. */
export type Packable = ProtobufMessage | string | number | boolean | Uint8Array | Long | bigint | object;

/** The protobufjs type of a message instance, if it is one. */
export function messageTypeOf(value: unknown): protobuf.Type | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const type = (value as { $type?: unknown }).$type;
  return type instanceof protobuf.Type ? type : undefined;
}

/** Full name without the leading dot (`com.example.Cart`). */
export function fullNameOf(type: protobuf.ReflectionObject): string {
  const name = type.fullName;
  return name.startsWith('.') ? name.slice(1) : name;
}

/** Packs `value` as a message of `type` (plain objects are converted with `fromObject`, camelCase or as written). */
export function packMessage(type: protobuf.Type, value: object): Any {
  const message = value instanceof type.ctor ? value : type.fromObject(value as Record<string, unknown>);
  return { type_url: TYPE_URL_PREFIX + fullNameOf(type), value: type.encode(message).finish() };
}

function encodePrimitive(value: string | Uint8Array | Long | number | boolean | bigint, type: PrimitiveType): Uint8Array {
  const writer = protobuf.Writer.create().uint32((1 << 3) | WIRE_TYPES[type]);
  switch (type) {
    case 'string': writer.string(value as string); break;
    case 'bytes': writer.bytes(value as Uint8Array); break;
    case 'int64': writer.int64(typeof value === 'bigint' ? Long.fromString(value.toString()) : (value as Long | number)); break;
    case 'bool': writer.bool(value as boolean); break;
    case 'double': writer.double(value as number); break;
  }
  return writer.finish();
}

/** Packs a primitive as `p.cloudstate.io/<type>`; the type is inferred (numbers are doubles, Long/bigint int64). */
export function packPrimitive(value: string | number | boolean | Uint8Array | Long | bigint, type?: PrimitiveType): Any {
  const inferred: PrimitiveType =
    type ??
    (typeof value === 'string' ? 'string'
      : typeof value === 'number' ? 'double'
      : typeof value === 'boolean' ? 'bool'
      : value instanceof Uint8Array ? 'bytes'
      : 'int64');
  return { type_url: PRIMITIVE_TYPE_URL_PREFIX + inferred, value: encodePrimitive(value, inferred) };
}

/** Packs a JSON-serializable value as `json.cloudstate.io/<typeName>` (default: its `type` property, else `object`). */
export function packJson(value: unknown, typeName?: string): Any {
  const declared = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  const name = typeName ?? (typeof declared === 'string' ? declared : 'object');
  return { type_url: JSON_TYPE_URL_PREFIX + name, value: encodePrimitive(JSON.stringify(value), 'string') };
}

/** The value of a `p.cloudstate.io/` payload (the type's default when field 1 is absent). */
export function unpackPrimitive(type: string, bytes: Uint8Array): string | Uint8Array | Long | boolean | number {
  if (!(type in WIRE_TYPES)) throw new Error(`unsupported Cloudstate primitive type: ${type}`);
  const primitive = type as PrimitiveType;
  const reader = protobuf.Reader.create(bytes);
  while (reader.pos < reader.len) {
    const key = reader.uint32();
    if (key >>> 3 !== 1) {
      reader.skipType(key & 7);
      continue;
    }
    if ((key & 7) !== WIRE_TYPES[primitive]) throw new Error(`wire type ${key & 7} where ${primitive} was expected`);
    switch (primitive) {
      case 'string': return reader.string();
      case 'bytes': return reader.bytes();
      case 'int64': return Long.fromValue(reader.int64());
      case 'bool': return reader.bool();
      case 'double': return reader.double();
    }
  }
  const defaults: Record<PrimitiveType, string | Uint8Array | Long | boolean | number> = {
    string: '', bytes: new Uint8Array(0), int64: Long.ZERO, bool: false, double: 0,
  };
  return defaults[primitive];
}

/**
 * Packs and unpacks values against a set of protobufjs roots (the user's loaded protos).
 * Unpacked protobuf messages are protobufjs message instances: plain fields (camelCase when the
 * protos were loaded that way), and they remember their type, so packing them again needs nothing else.
 */
export class AnySupport {
  /** Types already found (the roots are complete when given): a protobufjs lookup walks the namespaces on every call. */
  private readonly found = new Map<string, protobuf.Type>();

  constructor(private readonly roots: readonly protobuf.Root[]) {}

  /** The message type of a full name, from the first root that has it. */
  lookupType(fullName: string): protobuf.Type | undefined {
    const known = this.found.get(fullName);
    if (known !== undefined) return known;
    for (const root of this.roots) {
      const found = root.lookup(fullName, [protobuf.Type]);
      if (found instanceof protobuf.Type) {
        this.found.set(fullName, found);
        return found;
      }
    }
    return undefined;
  }

  /**
   * Packs a value: protobuf message instances by their type; strings, numbers, booleans, bytes and
   * Long/bigint as primitives (when `allowPrimitives`); other objects as JSON (named by their `type` property).
   * With `typeName`, plain objects are packed as that protobuf message type instead.
   */
  pack(value: Packable, options: { typeName?: string; allowPrimitives?: boolean } = {}): Any {
    const type = messageTypeOf(value);
    if (type) return packMessage(type, value as object);
    if (options.typeName !== undefined) {
      const named = this.lookupType(options.typeName);
      if (!named) throw new Error(`unknown message type ${options.typeName}`);
      return packMessage(named, value as object);
    }
    const isPrimitive = ['string', 'number', 'boolean', 'bigint'].includes(typeof value) || value instanceof Uint8Array || Long.isLong(value);
    if (isPrimitive) {
      if (options.allowPrimitives === false) throw new Error(`a primitive (${typeof value}) cannot be packed here; use a protobuf message`);
      return packPrimitive(value as string);
    }
    if (typeof value === 'object' && value !== null) return packJson(value);
    throw new Error(`cannot pack ${String(value)}: not a protobuf message, primitive or object`);
  }

  /** Unpacks an Any by its type URL; throws on a message type none of the roots knows. */
  unpack(any: Any): unknown {
    const url = any.type_url ?? '';
    const bytes = any.value ?? new Uint8Array(0);
    if (url.startsWith(PRIMITIVE_TYPE_URL_PREFIX)) return unpackPrimitive(url.slice(PRIMITIVE_TYPE_URL_PREFIX.length), bytes);
    if (url.startsWith(JSON_TYPE_URL_PREFIX)) return JSON.parse(unpackPrimitive('string', bytes) as string) as unknown;
    const name = url.slice(url.lastIndexOf('/') + 1);
    const type = this.lookupType(name);
    if (!type) throw new Error(`unknown message type ${name} (type URL ${url})`);
    return type.decode(bytes);
  }
}
