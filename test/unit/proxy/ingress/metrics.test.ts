/**
 * The ingress's metrics keep plain numbers and hand them to prom-client at scrape time: what a
 * registry prints (text, in both content types, and JSON) must be exactly what prom-client's
 * own Counter and Histogram print for the same calls. And two ingresses on one registry share
 * the metrics.
 */
import { Counter, Histogram, Registry, type RegistryContentType } from 'prom-client';
import t from 'tap';
import { DURATION_METRIC, IngressMetrics, now, REQUESTS_METRIC, type IngressProtocol } from '../../../../src/proxy/ingress/metrics.js';

/** protocol, method, status, duration in ms: interleaved label sets, repeats, bucket bounds, beyond the last bound. */
const CALLS: [IngressProtocol, string, string, number][] = [
  ['grpc', '/shop.Cart/Add', 'OK', 0.3],
  ['http', '/shop.Cart/Get', '200', 1],
  ['grpc', '/shop.Cart/Add', 'OK', 2.5],
  ['grpc', '/shop.Cart/Add', 'NOT_FOUND', 7.25],
  ['grpc-web', '/shop.Cart/Add', 'OK', 0],
  ['grpc', '/shop.Cart/Remove', 'OK', 10_000],
  ['http', '/shop.Cart/Get', '404', 12_345.678],
  ['grpc', 'unknown', 'UNIMPLEMENTED', 0.0001],
  ['http', '/shop.Cart/Get', '200', 499.999],
  ['grpc', '/shop.Cart/Add', 'OK', 1.1],
];

/** prom-client's type declarations leave out the constructor's content type. */
const registryOf = (contentType: RegistryContentType): Registry =>
  new (Registry as unknown as new (contentType: RegistryContentType) => Registry)(contentType);

/** An IngressMetrics whose clock reads `at` (ms), and prom-client's own metrics on a second registry. */
function pair(contentType: RegistryContentType) {
  const clock = { at: 0 };
  const ours = registryOf(contentType);
  const metrics = new IngressMetrics(ours, () => clock.at);
  const theirs = registryOf(contentType);
  const requests = new Counter({ ...REQUESTS_METRIC, labelNames: [...REQUESTS_METRIC.labelNames], registers: [theirs] });
  const duration = new Histogram({
    ...DURATION_METRIC,
    labelNames: [...DURATION_METRIC.labelNames],
    buckets: [...DURATION_METRIC.buckets],
    registers: [theirs],
  });
  const record = (protocol: IngressProtocol, method: string, status: string, ms: number): void => {
    const startedAt = 1_000;
    clock.at = startedAt + ms;
    metrics.record(protocol, method, status, startedAt);
    requests.labels(protocol, method, status).inc();
    duration.labels(protocol, method).observe((clock.at - startedAt) / 1000);
  };
  return { ours, theirs, record };
}

/** prom-client's JSON carries exemplar fields (null without exemplars) that say nothing. */
async function json(registry: Registry) {
  const metrics = await registry.getMetricsAsJSON();
  return metrics.map((m) => ({
    ...m,
    values: m.values.map((v) => {
      const { exemplar: _, ...rest } = v as typeof v & { exemplar?: unknown };
      return rest;
    }),
  }));
}

for (const contentType of [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE]) {
  t.test(`scrapes as prom-client's Counter and Histogram (${contentType.split(';')[0]})`, async (t) => {
    const { ours, theirs, record } = pair(contentType);
    t.equal(await ours.metrics(), await theirs.metrics(), 'nothing recorded');
    for (const call of CALLS) record(...call);
    const text = await ours.metrics();
    t.match(text, 'cloudstate_ingress_request_duration_seconds_bucket{le="+Inf",protocol="grpc",method="/shop.Cart/Add"} 4');
    t.equal(text, await theirs.metrics());
    t.equal(await ours.metrics(), text, 'a scrape changes nothing');
    t.same(await json(ours), await json(theirs));

    ours.resetMetrics();
    theirs.resetMetrics();
    t.equal(await ours.metrics(), await theirs.metrics(), 'reset');
    for (const call of CALLS.slice(3)) record(...call);
    t.equal(await ours.metrics(), await theirs.metrics(), 'recorded after a reset');
  });
}

t.test('two ingresses on one registry share the metrics', async (t) => {
  const registry = new Registry();
  const first = new IngressMetrics(registry, () => 3);
  const second = new IngressMetrics(registry, () => 3);
  first.record('grpc', '/shop.Cart/Add', 'OK', 1);
  second.record('grpc', '/shop.Cart/Add', 'OK', 2);
  t.same(
    registry.getMetricsAsArray().map((m) => m.name),
    [REQUESTS_METRIC.name, DURATION_METRIC.name],
  );
  const text = await registry.metrics();
  t.match(text, 'cloudstate_ingress_requests_total{protocol="grpc",method="/shop.Cart/Add",status="OK"} 2\n');
  t.match(text, 'cloudstate_ingress_request_duration_seconds_bucket{le="0.001",protocol="grpc",method="/shop.Cart/Add"} 1\n');
  t.match(text, 'cloudstate_ingress_request_duration_seconds_bucket{le="0.0025",protocol="grpc",method="/shop.Cart/Add"} 2\n');
  t.match(text, 'cloudstate_ingress_request_duration_seconds_count{protocol="grpc",method="/shop.Cart/Add"} 2\n');
});

t.test('a metric of the same name that is not the ingress’s is refused', async (t) => {
  const registry = new Registry();
  new Counter({ name: REQUESTS_METRIC.name, help: 'other', registers: [registry] });
  t.throws(() => new IngressMetrics(registry), /already been registered/);
});

t.test('record measures from startedAt with the default clock', async (t) => {
  const registry = new Registry();
  const metrics = new IngressMetrics(registry);
  metrics.record('http', '/shop.Cart/Get', '200', now() - 3_000);
  const text = await registry.metrics();
  t.match(text, 'cloudstate_ingress_request_duration_seconds_bucket{le="2.5",protocol="http",method="/shop.Cart/Get"} 0\n');
  t.match(text, 'cloudstate_ingress_request_duration_seconds_bucket{le="5",protocol="http",method="/shop.Cart/Get"} 1\n');
});
