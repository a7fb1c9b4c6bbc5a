import { once } from 'node:events';
import http2 from 'node:http2';
import t from 'tap';
import { startFixture } from './fixtures/harness.js';

const json = { 'content-type': 'application/json' };

t.test('HTTP/JSON: every body rule, path variables, query parameters, defaults, response_body, HttpBody', async (t) => {
  const f = await startFixture(t);

  const add = await fetch(`${f.url}/cart/u1/items/add`, { method: 'POST', headers: { ...json, 'x-user': 'alice' }, body: JSON.stringify({ productId: 'p1', name: 'Apple', quantity: 2, userId: 'ignored' }) });
  t.equal(add.status, 200);
  t.equal(add.headers.get('content-type'), 'application/json');
  t.equal(add.headers.get('x-reply'), 'yes', 'reply metadata (string values) as response headers');
  t.equal(add.headers.get('x-trace-bin'), null, 'binary reply metadata is not lifted into HTTP headers');
  t.equal(await add.text(), '{}', 'google.protobuf.Empty');
  const seen = f.dispatcher.calls[0]!;
  t.same(seen.requests[0], { userId: 'u1', productId: 'p1', name: 'Apple', quantity: 2 }, 'the path variable wins over the body');
  t.same(
    seen.metadata.find((e) => e.key === 'x-user'),
    { key: 'x-user', string_value: 'alice' },
  );

  const echo = await fetch(`${f.url}/ingress.test.ShoppingCart/Echo`, { method: 'POST', headers: json, body: '{"name":"n"}' });
  t.equal(await echo.text(), '{"productId":"","name":"n","quantity":0}', 'default route, defaults included, no whitespace');

  const cart = await (await fetch(`${f.url}/carts/u1`)).json();
  t.same(cart, {
    items: [{ productId: 'p1', name: 'Apple', quantity: 2 }],
    total: '42',
    kind: 'SPECIAL',
    tag: 'aGk=',
    updatedAt: '2020-01-01T00:00:00Z',
    limit: 5,
    open: false,
    counts: {},
  });
  t.same(await (await fetch(`${f.url}/carts/u1/items`)).json(), [{ productId: 'p1', name: 'Apple', quantity: 2 }], 'additional binding with response_body');

  const search = await fetch(`${f.url}/search/u%201?since=42&tags=a&tags=b&filter.text=hi&kind=SPECIAL&big=18446744073709551615`);
  t.same(await search.json(), { userId: 'u 1', since: '42', tags: ['a', 'b'], filter: { text: 'hi', min: 0 }, flag: false, kind: 'SPECIAL', big: '18446744073709551615', raw: '' });

  const put = await fetch(`${f.url}/items/u1?version=3`, { method: 'PUT', headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"product_id":"p9"}' });
  t.same(await put.json(), { userId: 'u1', item: { productId: 'p9', name: '', quantity: 0 }, version: 3 }, 'body rule "field", proto names accepted');

  const page = await fetch(`${f.url}/page/u1`);
  t.equal(page.headers.get('content-type'), 'text/html');
  t.equal(await page.text(), '<h1>u1</h1>', 'HttpBody: raw data with its content type');

  const any = await fetch(`${f.url}/any/x%2Fy`, { method: 'DELETE' });
  t.same(await any.json(), { productId: '', name: 'x/y', quantity: 0 }, "custom '*' pattern, percent-decoded path value");
});

t.test('HTTP/JSON errors: 400 for bad requests, status-mapped failures with the description as text, 404', async (t) => {
  const f = await startFixture(t);
  const post = (body: string, headers: Record<string, string> = json) => fetch(`${f.url}/cart/u1/items/add`, { method: 'POST', headers, body });
  const cases: [Promise<Response>, number, RegExp | string][] = [
    [post('{}', { 'content-type': 'text/plain' }), 400, 'Content-type must be application/json!'],
    [post('{"quantity": '), 400, /^Malformed request: the body is not JSON/],
    [post('{"quantity": "many"}'), 400, /^Malformed request: .*quantity/],
    [post('{"nope": 1}'), 400, /unknown field/],
    [post('[1]'), 400, /must be a JSON object/],
    [fetch(`${f.url}/search/u1?flag=maybe`), 400, /flag expects true or false/],
    [fetch(`${f.url}/search/u1?nope=1`), 400, /refers to no field/],
    [fetch(`${f.url}/carts/boom`), 500, 'boom'],
    [fetch(`${f.url}/carts/down`), 503, 'user function unavailable'],
    [fetch(`${f.url}/carts/bad`), 400, 'bad argument'],
    [fetch(`${f.url}/carts/missing`), 404, 'no such cart'],
    [fetch(`${f.url}/carts/crash`), 500, /internal error: kaput/],
    [fetch(`${f.url}/no/such/route`), 404, /Not found: GET \/no\/such\/route/],
    [fetch(`${f.url}/carts/u1`, { method: 'POST' }), 404, /Not found/],
  ];
  for (const [pending, status, body] of cases) {
    const response = await pending;
    const text = await response.text();
    t.equal(response.status, status, `${status} ${text}`);
    if (typeof body === 'string') t.equal(text, body);
    else t.match(text, body);
    t.match(response.headers.get('content-type'), /^text\/plain/);
  }
});

t.test('server streaming over HTTP: newline-delimited JSON, or SSE when asked; failures mid-stream', async (t) => {
  const f = await startFixture(t);
  const ndjson = await fetch(`${f.url}/watch/u1`);
  t.equal(ndjson.status, 200);
  t.equal(ndjson.headers.get('content-type'), 'application/json');
  t.equal(ndjson.headers.get('x-stream'), 'first', "the first reply's metadata");
  const lines = (await ndjson.text()).split('\n');
  t.same(lines.slice(0, 3).map((l) => JSON.parse(l).total), ['1', '2', '3']);
  t.equal(lines[3], '', 'each message ends with a newline');

  const sse = await fetch(`${f.url}/watch/u1`, { headers: { accept: 'text/event-stream' } });
  t.equal(sse.headers.get('content-type'), 'text/event-stream');
  const events = (await sse.text()).split('\n\n').filter((e) => e !== '');
  t.equal(events.length, 3);
  t.match(events[0], /^data: \{"items":\[\],"total":"1",/);

  const failing = await fetch(`${f.url}/watch/boom`);
  t.equal(failing.status, 200, 'the status line went out with the first message');
  const failed = (await failing.text()).trim().split('\n');
  t.equal(failed.length, 2);
  t.same(JSON.parse(failed[1]!), { error: { code: 2, message: 'boom' } });
});

t.test('probes, metrics, CORS preflight, Knative probe, and HTTP/JSON over HTTP/2', async (t) => {
  const f = await startFixture(t);
  t.equal((await fetch(`${f.url}/ready`)).status, 200);
  f.setReady(false);
  t.equal((await fetch(`${f.url}/ready`)).status, 503);
  t.equal((await fetch(`${f.url}/alive`)).status, 200);
  t.equal((await fetch(`${f.url}/`)).status, 404, 'GET / answers');
  const probe = await fetch(`${f.url}/`, { headers: { 'k-network-probe': 'queue' } });
  t.equal(await probe.text(), 'queue');

  const preflight = await fetch(`${f.url}/cart/u1/items/add`, {
    method: 'OPTIONS',
    headers: { origin: 'http://page.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-grpc-web' },
  });
  t.equal(preflight.status, 204);
  t.equal(preflight.headers.get('access-control-allow-origin'), 'http://page.example');
  t.equal(preflight.headers.get('access-control-allow-headers'), 'content-type,x-grpc-web');
  t.match(preflight.headers.get('access-control-allow-methods'), /POST/);

  await fetch(`${f.url}/carts/u1`);
  const metrics = await fetch(`${f.url}/metrics`);
  t.match(metrics.headers.get('content-type'), /^text\/plain/);
  t.match(await metrics.text(), /cloudstate_ingress_requests_total\{protocol="http",method="\/ingress\.test\.ShoppingCart\/GetCart",status="200"\} 1/);

  const session = http2.connect(f.url);
  t.teardown(() => session.close());
  const stream = session.request({ ':method': 'GET', ':path': '/carts/u1/items' });
  stream.end();
  const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
  let body = '';
  stream.on('data', (c: Buffer) => (body += c.toString()));
  await once(stream, 'end');
  t.equal(headers[':status'], 200);
  t.same(JSON.parse(body), [{ productId: 'p1', name: 'Apple', quantity: 2 }]);
});

t.test('HTTP/JSON: a client that goes away cancels its call (HTTP/1.1 and HTTP/2), and the ingress goes on serving', async (t) => {
  const f = await startFixture(t);
  // HTTP/1.1: the request is aborted once the dispatcher has it.
  const aborted = new AbortController();
  const gone = fetch(`${f.url}/carts/slow`, { signal: aborted.signal }).catch((error: unknown) => error);
  while (!f.dispatcher.calls.some((c) => (c.requests[0] as { userId?: string }).userId === 'slow')) await new Promise((r) => setTimeout(r, 5));
  aborted.abort();
  t.ok((await gone) instanceof Error, 'the client saw its own abort');
  await f.dispatcher.whenAborted('slow');
  t.pass('the dispatcher saw the HTTP/1.1 call cancelled');
  // HTTP/2 (not gRPC): the stream is reset once the dispatcher has it.
  const session = http2.connect(f.url);
  t.teardown(() => session.destroy());
  const stream = session.request({ ':method': 'GET', ':path': '/carts/slow' });
  stream.on('error', () => undefined);
  while (f.dispatcher.calls.filter((c) => (c.requests[0] as { userId?: string }).userId === 'slow').length < 2) await new Promise((r) => setTimeout(r, 5));
  stream.close(http2.constants.NGHTTP2_CANCEL);
  await f.dispatcher.whenAborted('slow', 2);
  t.pass('the dispatcher saw the HTTP/2 call cancelled');
  const after = await fetch(`${f.url}/carts/u1`);
  t.equal(after.status, 200, 'the next request is served');
});
