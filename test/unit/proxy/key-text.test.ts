import t from 'tap';
import { protobuf } from '../../../src/protocol/index.js';
import { javaFloatingText, keyText } from '../../../src/proxy/key-text.js';

// What the reference proxy's entity ids are: Java's toString of DynamicMessage.getField.
const root = protobuf.parse(
  `syntax = "proto3";
  package k;
  enum Color { option allow_alias = true; RED = 0; GREEN = 1; VERT = 1; }
  message Key {
    string s = 1; bool b = 2; int32 i32 = 3; int64 i64 = 4; uint32 u32 = 5; uint64 u64 = 6; sint64 s64 = 7;
    fixed64 f64 = 8; Color color = 9; float f = 10; double d = 11; bytes by = 12; optional string opt = 13;
    oneof choice { int64 n = 14; string name = 15; }
  }`,
  { keepCase: true },
).root;
root.resolveAll();
const Key = root.lookupType('k.Key');

/** The id text of field `name` after `value` went over the wire, as a request's key does. */
function keyOf(name: string, value?: unknown): string {
  const message = Key.decode(Key.encode(value === undefined ? {} : { [name]: value }).finish()) as unknown as Record<string, unknown>;
  return keyText(Key.fields[name]!, message[name]);
}

t.test('key values print as Java toString', async (t) => {
  const cases: [string, unknown, string][] = [
    ['s', 'cart-1', 'cart-1'],
    ['s', 'ü 1', 'ü 1'],
    ['b', true, 'true'],
    ['b', false, 'false'],
    ['i32', -5, '-5'],
    ['i64', '9007199254740993', '9007199254740993'],
    ['i64', '-9223372036854775808', '-9223372036854775808'],
    ['s64', '-42', '-42'],
    ['u32', 7, '7'],
    ['u32', 4294967295, '-1'], // Java int
    ['u64', '18446744073709551615', '-1'], // Java long
    ['f64', '9223372036854775808', '-9223372036854775808'],
    ['color', 1, 'GREEN'], // the name, not the number; VERT is an alias of the first declared
    ['color', 0, 'RED'],
    ['color', 7, 'UNKNOWN_ENUM_VALUE_Color_7'],
    ['f', 0.1, '0.1'], // not the widened 0.10000000149011612
    ['f', 1, '1.0'],
    ['f', 1e10, '1.0E10'],
    ['f', 1e-4, '1.0E-4'],
    ['f', 3.4028235e38, '3.4028235E38'],
    ['f', 1.4e-45, '1.4E-45'],
    ['f', 16777216, '1.6777216E7'],
    ['f', 123456.7, '123456.7'],
    ['f', NaN, 'NaN'],
    ['f', -Infinity, '-Infinity'],
    ['d', 1, '1.0'],
    ['d', 1e10, '1.0E10'],
    ['d', 1e-4, '1.0E-4'],
    ['d', 0.1, '0.1'],
    ['d', -2.5, '-2.5'],
    ['d', 1e7, '1.0E7'],
    ['d', 9999999, '9999999.0'],
    ['d', 0.001, '0.001'],
    ['d', 12345678.9, '1.23456789E7'],
    ['d', Infinity, 'Infinity'],
    ['by', new Uint8Array([1, 2, 3]), 'AQID'],
  ];
  for (const [field, value, expected] of cases) t.equal(keyOf(field, value), expected, `${field} = ${String(value)}`);
});

t.test('an unset key prints its default, as getField returns it', async (t) => {
  const cases: [string, string][] = [
    ['s', ''],
    ['b', 'false'],
    ['i64', '0'],
    ['u64', '0'],
    ['color', 'RED'],
    ['f', '0.0'],
    ['d', '0.0'],
    ['by', ''],
    ['opt', ''], // proto3 optional: protobufjs gives null
    ['n', '0'], // an unset oneof member
    ['name', ''],
  ];
  for (const [field, expected] of cases) t.equal(keyOf(field), expected, `unset ${field}`);
});

t.test('javaFloatingText: Double.toString and Float.toString', async (t) => {
  const doubles: [number, string][] = [
    [0, '0.0'],
    [-0, '-0.0'],
    [100, '100.0'],
    [1234567, '1234567.0'],
    [123.456, '123.456'],
    [1e-3, '0.001'],
    [0.00123, '0.00123'],
    [9.99e-4, '9.99E-4'],
    [1.5e-7, '1.5E-7'],
    [1e21, '1.0E21'],
    [Number.MAX_VALUE, '1.7976931348623157E308'],
    [Number.MIN_VALUE, '4.9E-324'], // Java prints two digits, the closest
    [NaN, 'NaN'],
  ];
  for (const [value, expected] of doubles) t.equal(javaFloatingText(value), expected, `double ${value}`);
  const floats: [number, string][] = [
    [0.1, '0.1'],
    [0.3, '0.3'],
    [3.14159, '3.14159'],
    [2.8e-45, '2.8E-45'],
    [-1e7, '-1.0E7'],
  ];
  for (const [value, expected] of floats) t.equal(javaFloatingText(Math.fround(value), true), expected, `float ${value}`);
});
