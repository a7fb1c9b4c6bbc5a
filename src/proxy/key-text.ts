/**
 * Entity key values as text, as the reference proxy prints them: Java's `toString` of what
 * `DynamicMessage.getField` returns for the key field (`EntityMethodDescriptor.extractId`).
 * An entity id is persisted (it is part of the persistence id) and decides the shard, so the
 * text must be exactly the reference's, or the same request would reach another entity.
 *
 * Only singular scalar and enum fields are keys (./validation.ts rejects the others at
 * discovery). Pure; no protobuf decoding here.
 */
import { protobuf } from '../protocol/index.js';
import { shortestFloat32 } from './ingress/json.js';

const scalarDefaults = protobuf.types.defaults as Record<string, unknown>;

/**
 * A key field's value as the reference proxy prints it. An unset field prints its default
 * (`""`, `0`, `false`, the enum's first value), as `getField` returns it.
 *
 * - string as is; bool `true`/`false`; integers in decimal, with `uint32`/`fixed32` and
 *   `uint64`/`fixed64` read as signed (Java has no unsigned types: 2^64-1 prints `-1`);
 * - enum: the value's name (`findValueByNumberCreatingIfUnknown`: a number the enum lacks
 *   prints `UNKNOWN_ENUM_VALUE_<Enum>_<number>`);
 * - float and double as `Float.toString` / `Double.toString` (`javaFloatingText`): 0.1f is
 *   `0.1` (not the widened 0.10000000149011612), 1.0 is `1.0`, 1e10 is `1.0E10`;
 * - bytes: standard base64. Java's `ByteString.toString` names the object's identity hash
 *   (`<ByteString@1b6d3586 size=3 …>`), a different id on every request, so no client could
 *   address a bytes-keyed entity through the reference proxy: nothing to be compatible with.
 */
export function keyText(field: protobuf.Field, value: unknown): string {
  // protobufjs leaves an unset proto3 `optional` field null, without even a typeDefault; getField gives the default.
  const v = value ?? field.typeDefault ?? scalarDefaults[field.type];
  const type = field.resolvedType;
  if (type instanceof protobuf.Enum) return enumValueName(type, Number(v ?? 0));
  switch (field.type) {
    case 'float':
      return javaFloatingText(v as number, true);
    case 'double':
      return javaFloatingText(v as number);
    case 'uint32':
    case 'fixed32':
      return String((v as number) | 0);
    case 'uint64':
    case 'fixed64':
      return BigInt.asIntN(64, BigInt(String(v))).toString();
    case 'bytes':
      return Buffer.from(v as Uint8Array).toString('base64');
    default:
      return String(v);
  }
}

/** The name Java gives an enum number: the first value declared with it (aliases share numbers). */
function enumValueName(type: protobuf.Enum, n: number): string {
  for (const name in type.values) if (type.values[name] === n) return name;
  return `UNKNOWN_ENUM_VALUE_${type.name}_${n}`;
}

/**
 * A double as Java's `Double.toString` prints it, or with `float` a float (widened, as
 * protobufjs decodes it) as `Float.toString` does: the shortest digits that read back, but at
 * least two, the closest (`4.9E-324` for the least double, `1.4E-45` for the least float);
 * `"1.0"` for integral values; computerized scientific notation (`"1.0E10"`, `"1.0E-4"`)
 * outside 10^-3 <= |x| < 10^7; `"NaN"`, `"Infinity"`, `"-Infinity"`, `"-0.0"`.
 */
export function javaFloatingText(value: number, float = false): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(value);
  // toExponential() without an argument gives the shortest digits that read back, as String() does.
  let [mantissa, exponent] = (float ? shortestFloat32(abs) : abs).toExponential().split('e') as [string, string];
  if (mantissa.length === 1) {
    // One digit is shorter than Java prints ("d.d"): it takes the closest two, when they read back.
    const [two, twoExponent] = abs.toExponential(1).split('e') as [string, string];
    const back = Number(`${two}e${twoExponent}`);
    if ((float ? Math.fround(back) : back) === abs) [mantissa, exponent] = [two.replace(/\.0$/, ''), twoExponent];
  }
  const sign = value < 0 ? '-' : '';
  const digits = mantissa.replace('.', '');
  const e = Number(exponent);
  if (e < -3 || e >= 7) return `${sign}${digits[0]}.${digits.slice(1) || '0'}E${e}`;
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  return `${sign}${digits.slice(0, e + 1).padEnd(e + 1, '0')}.${digits.slice(e + 1) || '0'}`;
}
