import t from 'tap';
import type { HttpRule, MethodModel, ProxyModel } from '../../../../src/proxy/model.js';
import { compileHttpRules, HttpConfigError, requestJson } from '../../../../src/proxy/ingress/http-rules.js';
import { BadRequest, bytesToJson, jsonToBytes, messageToJson, shortestFloat32 } from '../../../../src/proxy/ingress/json.js';
import { fixtureModel, method } from './fixtures/harness.js';

/** A model with one method whose HTTP rule is replaced. */
function modelWith(base: string, rule: HttpRule): ProxyModel {
  const m: MethodModel = { ...method(base), httpRule: rule };
  const service = { ...fixtureModel().services.get(m.serviceName)!, methods: new Map([[m.name, m]]) };
  return { ...fixtureModel(), services: new Map([[m.serviceName, service]]), method: (p) => (p === m.path ? m : undefined) };
}

t.test('the fixture rules compile and route', async (t) => {
  const routes = compileHttpRules(fixtureModel());
  t.equal(routes.bindings.length, 11, 'ten methods, one with an additional binding');
  const get = routes.match('GET', '/carts/u1')!;
  t.equal(get.binding.method.name, 'GetCart');
  t.same(get.values, ['u1']);
  t.equal(get.binding.responseBodyField, undefined);
  const items = routes.match('GET', '/carts/u1/items')!;
  t.equal(items.binding.method.name, 'GetCart', 'additional binding');
  t.equal(items.binding.responseBodyField?.name, 'items');
  t.equal(routes.match('PUT', '/carts/u1'), undefined, 'the HTTP method must match');
  const echo = routes.match('POST', '/ingress.test.ShoppingCart/Echo')!;
  t.equal(echo.binding.method.name, 'Echo', 'default route: POST /<service>/<method>');
  t.equal(echo.binding.body, '*');
  t.equal(routes.match('DELETE', '/any/x')?.binding.method.name, 'Anything', "custom kind '*' takes any method");
  t.equal(routes.match('GET', '/page/u')?.binding.httpBodyOutput, true);
  t.equal(routes.match('PUT', '/items/u')?.binding.bodyField?.name, 'item');
});

t.test('configuration errors are reported with the method and the reason', async (t) => {
  const cases: [string, HttpRule, RegExp][] = [
    ['Echo', { body: '*' }, /ShoppingCart\.Echo: the rule has no pattern/],
    ['Echo', { selector: 'other.Service.Method', post: '/x' }, /selector 'other\.Service\.Method' must be empty or 'ingress\.test\.ShoppingCart\.Echo'/],
    ['Echo', { get: 'foo' }, /Template must start with a slash/],
    ['Echo', { get: '/x/{name}/{name}' }, /Duplicate path variable 'name'/],
    ['Search', { get: '/s/{tags}' }, /repeated field 'tags' cannot be a path variable/],
    ['Search', { get: '/s/{filter}' }, /message field 'filter' cannot be a path variable/],
    ['Search', { get: '/s/{kind}' }, /enum field 'kind' cannot be a path variable/],
    ['Search', { get: '/s/{filter.text}' }, /nested field paths/],
    ['Echo', { get: '/x/{nope}' }, /path variable 'nope' is not a field of ingress\.test\.Item/],
    ['Echo', { custom: { kind: 'HEAD', path: '/x' } }, /only custom patterns of kind '\*'/],
    ['Echo', { post: '/x', body: 'nope' }, /body field 'nope' is not a field/],
    ['Search', { post: '/x', body: 'tags' }, /body field 'tags' is repeated/],
    ['Echo', { get: '/x', response_body: 'nope' }, /response_body field 'nope' is not a field of ingress\.test\.Item/],
    ['Echo', { get: '/x', additional_bindings: [{ get: '/y', additional_bindings: [{ get: '/z' }] }] }, /only one level/],
    ['Echo', { get: '/x', additional_bindings: [{ body: '*' }] }, /additional_bindings\[0\]: the rule has no pattern/],
  ];
  for (const [base, rule, expected] of cases) {
    const error = t.throws(() => compileHttpRules(modelWith(base, rule)), HttpConfigError, JSON.stringify(rule)) as unknown as Error;
    t.match(error.message, expected, JSON.stringify(rule));
    t.match(error.message, /^HTTP API config: /);
  }
});

t.test('JSON output is canonical ProtoJSON with default values included', async (t) => {
  const cart = method('GetCart').outputType;
  t.same(bytesToJson(cart, new Uint8Array()), { items: [], total: '0', kind: 'NORMAL', tag: '', open: false, counts: {} }, 'unset messages, oneofs and optional fields are left out');
  const full = cart.encode(
    cart.fromObject({
      items: [{ productId: 'p1', quantity: 2 }],
      total: '9007199254740993',
      kind: 1,
      tag: Buffer.from('hi'),
      updatedAt: { seconds: 1577836800, nanos: 500_000_000 },
      limit: { value: 5 },
      open: true,
      counts: { a: 1 },
      featured: {},
      attrs: { fields: { k: { stringValue: 'v' }, n: { numberValue: 1.5 }, l: { listValue: { values: [{ boolValue: true }, { nullValue: 0 }] } } } },
      ttl: { seconds: 3, nanos: 1000 },
      mask: { paths: ['user_id', 'items.name'] },
      code: 0,
      maybe: 0,
    }),
  ).finish();
  t.same(bytesToJson(cart, full), {
    items: [{ productId: 'p1', name: '', quantity: 2 }],
    total: '9007199254740993',
    kind: 'SPECIAL',
    tag: 'aGk=',
    updatedAt: '2020-01-01T00:00:00.500Z',
    limit: 5,
    open: true,
    counts: { a: 1 },
    featured: { productId: '', name: '', quantity: 0 },
    attrs: { k: 'v', n: 1.5, l: [true, null] },
    ttl: '3.000001s',
    mask: 'userId,items.name',
    code: 0,
    maybe: 0,
  });
  t.equal(JSON.stringify(bytesToJson(cart, cart.encode(cart.fromObject({ total: 42 })).finish())).includes('"total":"42"'), true, 'int64 as a string');

  const body = method('Page').outputType;
  const item = method('Echo').inputType;
  const withAny = body.fromObject({ contentType: 'text/plain', extensions: [{ typeUrl: 'type.googleapis.com/ingress.test.Item', value: item.encode({ productId: 'p' }).finish() }] });
  t.same(messageToJson(body, withAny as unknown as Record<string, unknown>), {
    contentType: 'text/plain',
    data: '',
    extensions: [{ '@type': 'type.googleapis.com/ingress.test.Item', productId: 'p' }],
  });
  t.same(bytesToJson(method('AddItem').outputType, new Uint8Array()), {}, 'Empty is {}');
  for (const [float, printed] of [[0.1, 0.1], [1.5, 1.5], [3.4028234663852886e38, 3.4028235e38], [16777217, 16777216], [-0.3, -0.3]] as const) {
    t.equal(shortestFloat32(Math.fround(float)), printed, `float ${float}`);
  }
});

t.test('JSON input: json names and proto names, well-known types, clear errors', async (t) => {
  const item = method('Echo').inputType;
  const decoded = (bytes: Uint8Array) => item.toObject(item.decode(bytes));
  t.same(decoded(jsonToBytes(item, { productId: 'p', quantity: 3 })), { productId: 'p', quantity: 3 });
  t.same(decoded(jsonToBytes(item, { product_id: 'p', quantity: '3' })), { productId: 'p', quantity: 3 }, 'proto names, numbers as strings');
  const cart = method('GetCart').outputType;
  const back = bytesToJson(cart, jsonToBytes(cart, { total: '42', updatedAt: '2020-01-01T00:00:00Z', limit: 7, attrs: { a: [1, 'x'] }, ttl: '1.5s', kind: 'SPECIAL', tag: 'aGk=' }));
  t.match(back, { total: '42', updatedAt: '2020-01-01T00:00:00Z', limit: 7, attrs: { a: [1, 'x'] }, ttl: '1.500s', kind: 'SPECIAL', tag: 'aGk=' });
  t.throws(() => jsonToBytes(item, { quantity: 'many' }), { name: 'BadRequest', message: /Malformed request: .*quantity.*invalid integer/ });
  t.throws(() => jsonToBytes(item, { nope: 1 }), { name: 'BadRequest', message: /unknown field/ });
  t.throws(() => jsonToBytes(item, [1]), BadRequest);
});

t.test('request JSON from path variables, query parameters and the body', async (t) => {
  const routes = compileHttpRules(fixtureModel());
  const search = routes.match('GET', '/search/u%201')!;
  const query = new URLSearchParams('since=42&tags=a&tags=b&filter.text=hi&filter.min=3&flag=TRUE&kind=SPECIAL&big=18446744073709551615&raw=aGk%3D&empty=');
  const json = requestJson(search.binding, search.values, query, undefined);
  t.same(json, { since: '42', tags: ['a', 'b'], filter: { text: 'hi', min: '3' }, flag: true, kind: 'SPECIAL', big: '18446744073709551615', raw: 'aGk=', userId: 'u 1' });
  const type = search.binding.method.inputType;
  t.match(type.toObject(type.decode(jsonToBytes(type, json)), { longs: String }), { userId: 'u 1', since: '42', big: '18446744073709551615', tags: ['a', 'b'], flag: true, kind: 1 });

  const bad: [string, RegExp][] = [
    ['flag=maybe', /flag expects true or false/],
    ['nope=1', /query parameter 'nope' refers to no field/],
    ['filter=x', /refers to a message field/],
    ['since=1&since=2', /several values for the non-repeated query parameter 'since'/],
    ['tags.x=1', /'tags' is not a singular message field/],
  ];
  for (const [q, expected] of bad) {
    t.throws(() => requestJson(search.binding, search.values, new URLSearchParams(q), undefined), { name: 'BadRequest', message: expected }, q);
  }
  t.throws(() => jsonToBytes(type, requestJson(search.binding, search.values, new URLSearchParams('since=x'), undefined)), { name: 'BadRequest', message: /since/ });

  const add = routes.match('POST', '/cart/u1/items/add')!;
  t.same(requestJson(add.binding, add.values, new URLSearchParams('quantity=9'), { userId: 'other', user_id: 'x', quantity: 2 }), { quantity: 2, userId: 'u1' }, 'body "*": the path wins, the query is ignored');
  t.throws(() => requestJson(add.binding, add.values, new URLSearchParams(), [1]), { name: 'BadRequest' });
  const put = routes.match('PUT', '/items/u1')!;
  t.same(requestJson(put.binding, put.values, new URLSearchParams('version=3'), { name: 'n' }), { version: '3', item: { name: 'n' }, userId: 'u1' }, 'body "field": the body in the field, query for the rest');
  t.throws(() => requestJson(put.binding, ['%E0%A4%A'], new URLSearchParams(), {}), { name: 'BadRequest', message: /percent-encoding/ });
});
