/**
 * Protobuf canonical JSON (ProtoJSON) for HTTP/JSON transcoding, as the reference proxy prints
 * it with `JsonFormat.printer().includingDefaultValueFields()`: lowerCamelCase json names,
 * **fields at their default value included** (scalars, enums, repeated `[]`, maps `{}`; unset
 * message fields, oneof members and proto3 `optional` fields are left out), 64-bit integers
 * as strings, enums as names, bytes as base64, and the well-known types (Timestamp, Duration,
 * wrappers, Struct/Value/ListValue, Any with `@type`, FieldMask) in their special forms.
 *
 * Reading is protobufjs's `ext/protojson` (accepts json names and proto names); writing is done
 * here, delegating only the well-known types to protojson, which leaves defaults out.
 * Pure: types in, values out.
 */
import protojson from 'protobufjs/ext/protojson.js';
import { protobuf } from '../../protocol/index.js';

/** The types protojson writes in a special form (Empty is an ordinary message: `{}`). */
const WELL_KNOWN = new Set(
  [
    'Any',
    'Duration',
    'Timestamp',
    'FieldMask',
    'Struct',
    'Value',
    'ListValue',
    'DoubleValue',
    'FloatValue',
    'Int64Value',
    'UInt64Value',
    'Int32Value',
    'UInt32Value',
    'BoolValue',
    'StringValue',
    'BytesValue',
  ].map((name) => `.google.protobuf.${name}`),
);

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

const hasOwn = (object: object, key: string) => Object.prototype.hasOwnProperty.call(object, key);

function isExtension(field: protobuf.Field): boolean {
  return field.declaringField !== null || field.name.startsWith('.');
}

/**
 * The shortest decimal that reads back as the same 32-bit float (as Java prints a float):
 * protobufjs widens `float` fields to doubles, so 0.1f would otherwise print as 0.10000000149011612.
 */
export function shortestFloat32(value: number): number {
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

/** The JSON form of one (non-repeated) value of `field`. */
export function fieldValueToJson(field: protobuf.Field, value: unknown): unknown {
  const type = field.resolvedType;
  if (type instanceof protobuf.Type) return messageToJson(type, (value ?? type.create()) as Record<string, unknown>);
  if (type instanceof protobuf.Enum) {
    if (type.fullName === '.google.protobuf.NullValue') return null;
    return type.valuesById[value as number] ?? value;
  }
  if (LONG_TYPES.has(field.type)) return value === undefined || value === null ? '0' : String(value);
  switch (field.type) {
    case 'bytes':
      return value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') : '';
    case 'float':
      return typeof value === 'number' ? (Number.isFinite(value) ? shortestFloat32(value) : String(value)) : value;
    case 'double':
      return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
    default:
      return value;
  }
}

/** A field's JSON value with defaults: `[]`/`{}` for empty repeated and map fields. */
function fieldToJson(field: protobuf.Field, value: unknown): unknown {
  if (field.map) {
    const out: Record<string, unknown> = {};
    const keyType = (field as unknown as { keyType: string }).keyType;
    const longKeys = LONG_TYPES.has(keyType);
    const unsigned = keyType === 'uint64' || keyType === 'fixed64';
    for (const [key, item] of Object.entries((value ?? {}) as Record<string, unknown>)) {
      // protobufjs keys 64-bit maps by an 8-character hash of the Long.
      const jsonKey = longKeys && key.length === 8 && !/^-?\d+$/.test(key) ? protobuf.util.LongBits.fromHash(key).toLong(unsigned).toString() : key;
      out[jsonKey] = fieldValueToJson(field, item);
    }
    return out;
  }
  if (field.repeated) return ((value ?? []) as unknown[]).map((item) => fieldValueToJson(field, item));
  return fieldValueToJson(field, value);
}

/** Whether a field is printed when the message does not carry it (defaults are printed). */
function printedWhenUnset(field: protobuf.Field): boolean {
  if (field.map || field.repeated) return true;
  if (field.partOf !== null || field.hasPresence) return false;
  return !(field.resolvedType instanceof protobuf.Type);
}

/**
 * A decoded message (or plain object with protobufjs field names) as canonical JSON with
 * default values included.
 */
export function messageToJson(type: protobuf.Type, message: Record<string, unknown>): unknown {
  if (WELL_KNOWN.has(type.fullName)) return protojson.toJson(type, message);
  const out: Record<string, unknown> = {};
  for (const raw of type.fieldsArray) {
    const field = raw.resolve();
    if (isExtension(field)) continue;
    const present = hasOwn(message, field.name) && message[field.name] !== null && message[field.name] !== undefined;
    if (!present && !printedWhenUnset(field)) continue;
    out[field.jsonName ?? field.name] = fieldToJson(field, present ? message[field.name] : field.defaultValue);
  }
  return out;
}

/** Decodes `bytes` as `type` and prints it (see `messageToJson`). */
export function bytesToJson(type: protobuf.Type, bytes: Uint8Array): unknown {
  return messageToJson(type, type.decode(bytes) as unknown as Record<string, unknown>);
}

/** A request the client got wrong (HTTP 400), with a message fit to show it. */
export class BadRequest extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BadRequest';
  }
}

/** Parses a JSON value as `type` and encodes it; a value that does not fit throws `BadRequest`. */
export function jsonToBytes(type: protobuf.Type, json: unknown): Uint8Array {
  let message: protobuf.Message;
  try {
    message = protojson.fromJson(type, json);
  } catch (error) {
    throw new BadRequest(`Malformed request: ${(error as Error).message}`, { cause: error });
  }
  return type.encode(message).finish();
}

/** A field by its proto name, json name or protobufjs name. */
export function fieldByName(type: protobuf.Type, name: string): protobuf.Field | undefined {
  const direct = type.fields[name];
  if (direct !== undefined) return direct.resolve();
  for (const field of type.fieldsArray) {
    if (field.protoName === name || field.jsonName === name) return field.resolve();
  }
  return undefined;
}

/**
 * Sets `field` in a JSON object about to be read by protojson, replacing whatever the object
 * holds under any of the field's names (so a path variable overrides the body).
 */
export function setJsonField(object: Record<string, unknown>, field: protobuf.Field, value: unknown): void {
  // `delete` only when the alias is there: deleting turns the object into a slow dictionary.
  const { name, protoName, jsonName } = field;
  if (protoName !== undefined && protoName !== name && hasOwn(object, protoName)) delete object[protoName];
  if (jsonName !== undefined && jsonName !== name && hasOwn(object, jsonName)) delete object[jsonName];
  object[name] = value;
}

/** The JSON-able form of a text value (a path variable, a query parameter) for a scalar or enum field. */
export function textToJsonValue(field: protobuf.Field, text: string): unknown {
  const type = field.resolvedType;
  if (type instanceof protobuf.Type) throw new BadRequest(`Malformed request: field ${field.name} is a message and cannot be given as text`);
  if (type instanceof protobuf.Enum) return /^-?\d+$/.test(text) ? Number(text) : text;
  switch (field.type) {
    case 'bool': {
      const lower = text.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      throw new BadRequest(`Malformed request: field ${field.name} expects true or false, got '${text}'`);
    }
    case 'string':
    case 'bytes':
      return text;
    default:
      // Numbers go through as text: protojson parses and range-checks integer and float strings.
      return text;
  }
}

/** One field of a decoded message as JSON (defaults included), for `response_body`. */
export function fieldOfMessageToJson(field: protobuf.Field, message: Record<string, unknown>): unknown {
  return fieldToJson(field, message[field.name] ?? (field.repeated || field.map ? undefined : field.defaultValue));
}
