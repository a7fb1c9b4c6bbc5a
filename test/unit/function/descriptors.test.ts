import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { packageProtoDir, protocolType } from '../../../src/protocol/index.js';
import { buildDescriptorSet, jsonName, type ProtoSource } from '../../../src/function/descriptors.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const cartDir = join(import.meta.dirname, '..', '..', '..', 'samples', 'shopping-cart', 'proto');
const cart: ProtoSource = { files: ['shoppingcart.proto', 'domain.proto'], includeDirs: [cartDir] };

const setType = protocolType('google.protobuf.FileDescriptorSet');
type Json = Record<string, any>;
function decode(bytes: Uint8Array): Json[] {
  return (setType.toObject(setType.decode(bytes), { longs: Number, enums: Number, bytes: String }) as Json).file as Json[];
}

t.test('the shopping cart set holds every imported file, dependencies first, with real names', async (t) => {
  const files = decode(buildDescriptorSet([cart]));
  t.same(
    files.map((f) => f.name),
    [
      'google/protobuf/empty.proto',
      'google/protobuf/descriptor.proto',
      'cloudstate/entity_key.proto',
      'google/api/http.proto',
      'google/api/annotations.proto',
      'shoppingcart.proto',
      'domain.proto',
    ],
  );
  const sc = files.find((f) => f.name === 'shoppingcart.proto')!;
  t.equal(sc.package, 'com.example.shoppingcart');
  t.equal(sc.syntax, 'proto3');
  t.same(sc.dependency, ['google/protobuf/empty.proto', 'cloudstate/entity_key.proto', 'google/api/annotations.proto']);
  const add = sc.message_type.find((m: Json) => m.name === 'AddLineItem');
  t.same(
    add.field.map((f: Json) => [f.name, f.json_name, f.options?.['.cloudstate.entity_key'] ?? false]),
    [['user_id', 'userId', true], ['product_id', 'productId', false], ['name', 'name', false], ['quantity', 'quantity', false]],
  );
  const methods = sc.service[0].method as Json[];
  t.same(methods.map((m) => [m.name, m.input_type, m.output_type]), [
    ['AddItem', '.com.example.shoppingcart.AddLineItem', '.google.protobuf.Empty'],
    ['RemoveItem', '.com.example.shoppingcart.RemoveLineItem', '.google.protobuf.Empty'],
    ['GetCart', '.com.example.shoppingcart.GetShoppingCart', '.com.example.shoppingcart.Cart'],
  ]);
  t.same(methods[0]!.options['.google.api.http'], { post: '/cart/{user_id}/items/add', body: '*' });
  t.same(methods[1]!.options['.google.api.http'], { post: '/cart/{user_id}/items/{product_id}/remove' });
  t.same(methods[2]!.options['.google.api.http'], {
    get: '/carts/{user_id}',
    additional_bindings: [{ get: '/carts/{user_id}/items', response_body: 'items' }],
  });
});

t.test('options are real extension fields on the wire (entity_key = FieldOptions field 1080)', async (t) => {
  const bytes = buildDescriptorSet([cart]);
  // Decoding with a descriptor.proto that has no extensions registered keeps them as unknown fields;
  // instead, look for the raw tag: field 1080, varint → key (1080 << 3) = 8640 = 0xC0 0x43, value 1.
  const raw = Buffer.from(bytes);
  t.ok(raw.includes(Buffer.from([0xc0, 0x43, 0x01])), 'tag of field 1080 with value true');
  // (google.api.http) = field 72295728, length-delimited: key (72295728 << 3 | 2) as a varint.
  const key = Buffer.from([0x82, 0xd3, 0xe4, 0x93, 0x02]);
  t.ok(raw.includes(key), 'tag of field 72295728');
});

t.test('each file once when several sources share imports', async (t) => {
  const files = decode(buildDescriptorSet([cart, { files: ['everything.proto'], includeDirs: [fixtures] }]));
  const names = files.map((f) => f.name);
  t.equal(new Set(names).size, names.length);
  t.ok(names.indexOf('google/api/annotations.proto') < names.indexOf('everything.proto'));
  t.ok(names.includes('google/protobuf/timestamp.proto'));
});

t.test('json names follow protoc', async (t) => {
  t.equal(jsonName('user_id'), 'userId');
  t.equal(jsonName('field_with__double_x'), 'fieldWithDoubleX');
  t.equal(jsonName('_lead'), 'Lead');
  t.equal(jsonName('trailing_'), 'trailing');
  t.equal(jsonName('has2_digit'), 'has2Digit');
  t.equal(jsonName('productId'), 'productId');
});

t.test('a missing file is reported by name', async (t) => {
  t.throws(() => buildDescriptorSet([{ files: ['nope.proto'], includeDirs: [fixtures] }]), /nope\.proto/);
});

let protoc = false;
try {
  execFileSync('protoc', ['--version'], { stdio: 'ignore' });
  protoc = true;
} catch {
  // no protoc on this machine
}
const protocInclude = '/usr/include';

t.test('same descriptors as protoc --include_imports', { skip: protoc ? false : 'protoc is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fn-desc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cases: Array<[string, ProtoSource]> = [
    ['shopping cart', cart],
    ['everything', { files: ['everything.proto'], includeDirs: [fixtures] }],
    ['proto2', { files: ['proto2.proto'], includeDirs: [fixtures] }],
  ];
  for (const [label, source] of cases) {
    const out = join(dir, `${label}.desc`);
    const includes = [...(source.includeDirs ?? []), packageProtoDir, protocInclude].map((d) => `-I${d}`);
    execFileSync('protoc', ['--include_imports', `--descriptor_set_out=${out}`, ...includes, ...source.files]);
    const theirs = decode(readFileSync(out));
    const mine = decode(buildDescriptorSet([source]));
    t.same(mine.map((f) => f.name), theirs.map((f) => f.name), `${label}: files and order`);
    for (const file of theirs) {
      // descriptor.proto itself differs by version (protobufjs carries a newer one than Debian's protoc).
      if (file.name === 'google/protobuf/descriptor.proto') continue;
      t.same(mine.find((f) => f.name === file.name), file, `${label}: ${file.name}`);
    }
  }
});

t.test('an absolute file outside the include dirs is read where it is, named by its base name', async (t) => {
  const files = decode(buildDescriptorSet([{ files: [join(fixtures, 'proto2.proto')] }]));
  t.same(files.map((f) => f.name), ['proto2.proto']);
  const under = decode(buildDescriptorSet([{ files: [join(fixtures, 'proto2.proto')], includeDirs: [join(fixtures, '..')] }]));
  t.same(under.map((f) => f.name), ['fixtures/proto2.proto'], 'under an include dir: relative to it');
});
