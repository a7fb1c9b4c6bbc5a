// An endpoint listener (the proxy's optional metrics and management ports) answers exactly as
// the ingress port does, from the same `ready` and registry, and only the paths it was given.
import t from 'tap';
import { silentLogger } from '../../../../src/core/index.js';
import { compileHttpRules, startEndpointListener } from '../../../../src/proxy/ingress/index.js';
import { shadowedByEndpoints } from '../../../../src/proxy/ingress/endpoints.js';
import { fixtureModel, method, startFixture } from './fixtures/harness.js';

const get = async (port: number, path: string) => {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
};

t.test('/ready and /alive on a management listener answer as the ingress port does, ready or not', async (t) => {
  const f = await startFixture(t);
  const management = await startEndpointListener({
    host: '127.0.0.1',
    port: 0,
    paths: ['/ready', '/alive'],
    endpoints: { ready: () => ready, registry: f.registry },
    logger: silentLogger,
  });
  t.teardown(() => management.close());
  let ready = true;
  f.setReady(true);
  for (const path of ['/ready', '/alive']) t.same(await get(management.port, path), await get(f.port, path), `${path} when ready`);
  t.match(await get(management.port, '/ready'), { status: 200, body: 'ready' });
  ready = false;
  f.setReady(false);
  t.same(await get(management.port, '/ready'), await get(f.port, '/ready'), '/ready when not ready');
  t.match(await get(management.port, '/ready'), { status: 503, body: 'not ready' });
  t.match(await get(management.port, '/alive'), { status: 200, body: 'alive' }, 'alive all the same');
  t.match(await get(management.port, '/metrics'), { status: 404 }, 'no metrics there');
  t.match(await get(management.port, method('Echo').path), { status: 404 }, 'no services there');
});

t.test('/metrics on a metrics listener: the registry the ingress records its calls in', async (t) => {
  const f = await startFixture(t);
  const metrics = await startEndpointListener({ host: '127.0.0.1', port: 0, paths: ['/metrics'], endpoints: { ready: () => true, registry: f.registry }, logger: silentLogger });
  t.teardown(() => metrics.close());
  t.equal((await fetch(`${f.url}/carts/c1`)).status, 200, 'one HTTP/JSON call');
  const scraped = await get(metrics.port, '/metrics');
  t.equal(scraped.status, 200);
  t.equal(scraped.type, f.registry.contentType);
  t.match(scraped.body, 'cloudstate_ingress_requests_total{protocol="http",method="/ingress.test.ShoppingCart/GetCart",status="200"} 1');
  t.same(scraped, await get(f.port, '/metrics'), 'the same text as the ingress port');
  t.match(await get(metrics.port, '/ready'), { status: 404 }, 'no probes there');
  t.match(await get(metrics.port, '/alive'), { status: 404 });
});

t.test('close stops listening and drops kept-alive connections', async (t) => {
  const f = await startFixture(t);
  const listener = await startEndpointListener({ host: '127.0.0.1', port: 0, paths: ['/alive'], endpoints: { ready: () => true, registry: f.registry }, logger: silentLogger });
  t.equal((await get(listener.port, '/alive')).status, 200, 'fetch keeps the connection alive');
  await listener.close();
  await t.rejects(fetch(`http://127.0.0.1:${listener.port}/alive`), 'nothing listens any more');
  await listener.close();
  t.pass('close is idempotent');
});

t.test("a user's HTTP rule on GET /ready, /alive or /metrics is shadowed by the endpoint: said, one line per rule", async (t) => {
  const binding = (name: string) => ({ binding: { method: { serviceName: 'shop.Health', name } }, values: [] });
  const routes = {
    match: (httpMethod: string, path: string) => (httpMethod !== 'GET' ? undefined : path === '/alive' ? binding('Alive') : path === '/metrics' ? binding('Stats') : undefined),
  } as unknown as Parameters<typeof shadowedByEndpoints>[0];
  t.same(shadowedByEndpoints(routes), [
    "GET /alive is the proxy's own health endpoint: the HTTP rule of shop.Health.Alive never gets it on this port",
    "GET /metrics is the proxy's own metrics endpoint: the HTTP rule of shop.Health.Stats never gets it on this port",
  ]);
  t.same(shadowedByEndpoints(compileHttpRules(fixtureModel())), [], 'the fixture model (GET /carts/{user_id}, …) has no such rule');
});
