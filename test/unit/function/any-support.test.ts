import { join } from 'node:path';
import Long from 'long';
import t from 'tap';
import { loadProtoFiles } from '../../../src/protocol/index.js';
import { AnySupport, Metadata, packJson, packPrimitive, unpackPrimitive } from '../../../src/function/index.js';

const root = loadProtoFiles(['model.proto'], { includeDirs: [join(import.meta.dirname, 'fixtures')], keepCase: false });
const support = new AnySupport([root]);

t.test('primitives: p.cloudstate.io/<type>, the value as field 1 (node-support wire format)', async (t) => {
  const text = packPrimitive('hi');
  t.equal(text.type_url, 'p.cloudstate.io/string');
  t.same([...text.value!], [0x0a, 0x02, 0x68, 0x69], 'tag 1/length-delimited, length 2, "hi"');
  t.same([...packPrimitive(true).value!], [0x08, 0x01]);
  t.same([...packPrimitive(Long.fromNumber(300)).value!], [0x08, 0xac, 0x02]);
  t.equal(packPrimitive(1.5).type_url, 'p.cloudstate.io/double');
  t.equal(packPrimitive(new Uint8Array([1, 2])).type_url, 'p.cloudstate.io/bytes');
  t.equal(packPrimitive(12n).type_url, 'p.cloudstate.io/int64');

  const cases: Array<[unknown, (v: unknown) => unknown]> = [
    ['héllo', (v) => v],
    [true, (v) => v],
    [false, (v) => v],
    [-2.25, (v) => v],
    [Long.fromString('9007199254740993'), (v) => (v as Long).toString()],
    [new Uint8Array([0, 255, 7]), (v) => [...(v as Uint8Array)]],
  ];
  for (const [value, view] of cases) {
    const packed = support.pack(value as string);
    t.same(view(support.unpack(packed)), view(value), `round trip ${packed.type_url}`);
  }
  t.equal(unpackPrimitive('string', new Uint8Array(0)), '', 'absent field: the default');
  t.throws(() => unpackPrimitive('float', new Uint8Array(0)), /unsupported/);
  t.throws(() => support.pack('x', { allowPrimitives: false }), /primitive/);
});

t.test('JSON: json.cloudstate.io/<type>, named by the type property', async (t) => {
  const packed = packJson({ type: 'Greeting', text: 'hi', n: [1, 2] });
  t.equal(packed.type_url, 'json.cloudstate.io/Greeting');
  t.same(support.unpack(packed), { type: 'Greeting', text: 'hi', n: [1, 2] });
  t.equal(support.pack({ a: 1 }).type_url, 'json.cloudstate.io/object');
  t.equal(packJson({ a: 1 }, 'Named').type_url, 'json.cloudstate.io/Named');
});

t.test('protobuf messages: type.googleapis.com/<full name>; plain objects with a type name', async (t) => {
  const message = root.lookupType('fixture.model.Persisted').fromObject({ value: 'v' });
  const packed = support.pack(message);
  t.equal(packed.type_url, 'type.googleapis.com/fixture.model.Persisted');
  const back = support.unpack(packed) as { value: string; $type: unknown };
  t.equal(back.value, 'v');
  t.equal(support.pack(back).type_url, packed.type_url, 'an unpacked message packs again by its type');

  const named = support.pack({ forwardTo: 'x', emit: ['a'] }, { typeName: 'fixture.model.Request' });
  t.equal(named.type_url, 'type.googleapis.com/fixture.model.Request');
  t.same((support.unpack(named) as { emit: string[] }).emit, ['a']);
  t.throws(() => support.pack({}, { typeName: 'no.Such' }), /unknown message type no\.Such/);
  t.throws(() => support.unpack({ type_url: 'type.googleapis.com/no.Such', value: new Uint8Array(0) }), /no\.Such/);
});

t.test('metadata: case-insensitive keys, string and bytes values, wire round trip', async (t) => {
  const metadata = new Metadata().add('X-Trace', 'a').add('x-trace', 'b').set('bin', new Uint8Array([1]));
  t.equal(metadata.get('x-TRACE'), 'a');
  t.same(metadata.getAll('X-Trace'), ['a', 'b']);
  t.ok(metadata.has('BIN'));
  const wire = metadata.toProtocol();
  t.same(wire.entries, [
    { key: 'X-Trace', string_value: 'a' },
    { key: 'x-trace', string_value: 'b' },
    { key: 'bin', bytes_value: new Uint8Array([1]) },
  ]);
  const back = Metadata.fromProtocol(wire);
  t.same(back.entries(), metadata.entries());
  metadata.set('x-trace', 'c');
  t.same(metadata.getAll('x-trace'), ['c']);
  t.equal(Metadata.fromProtocol(undefined).size, 0);
});
