// The entities' metrics on the proxy's real `/metrics`: a whole proxy in this process (dev
// mode, memory store, a separate metrics port) in front of the shopping-cart sample, also in
// this process. After a few cart commands over HTTP/JSON, both ports serve the
// `cloudstate_eventsourced_*` series of the cart entity type. The sample imports the library
// from dist/, so this needs `npm run build` first (`npm test` does it).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { silentLogger } from '../../../src/core/index.js';
import { parseConfig } from '../../../src/proxy/config.js';
import { startProxy } from '../../../src/proxy/proxy.js';

const repo = join(import.meta.dirname, '..', '..', '..');
const built = existsSync(join(repo, 'dist', 'function', 'index.js'));

interface Sample {
  startShoppingCart(port?: number, options?: { logger?: unknown }): Promise<{ server: { shutdown(graceMs?: number): Promise<void> }; port: number }>;
}

const post = (port: number, path: string, body: object) =>
  fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The cart entity type's samples in a scrape. */
const cartSeries = (text: string) => text.split('\n').filter((line) => line.startsWith('cloudstate_eventsourced_') && line.includes('entity_name="shopping-cart"'));

t.test('the cart entity type’s metrics on /metrics, on the ingress and the metrics port', { skip: built ? false : 'dist/ not built (npm run build)' }, async (t) => {
  // Not a static import: the sample resolves the library from dist/, which typechecking must not need.
  const sample = (await import(join(repo, 'samples', 'shopping-cart', 'index.ts'))) as Sample;
  const { server, port: ufPort } = await sample.startShoppingCart(0, { logger: silentLogger });
  t.teardown(() => server.shutdown(100));
  const parsed = parseConfig(['--dev', '--store', 'memory', '--http-port', '0', '--metrics-port', '0', '--user-function-port', String(ufPort)], {});
  if (parsed.help) throw new Error('unexpected --help');
  const proxy = await startProxy(parsed.config, silentLogger);
  t.teardown(() => proxy.close());

  t.equal((await post(proxy.httpPort, '/cart/ann/items/add', { productId: 'apple', name: 'Apple', quantity: 2 })).status, 200);
  t.equal((await post(proxy.httpPort, '/cart/ann/items/add', { productId: 'pear', name: 'Pear', quantity: 1 })).status, 200);
  t.equal((await post(proxy.httpPort, '/cart/ann/items/add', { productId: 'fig', name: 'Fig', quantity: -1 })).status, 500, 'the cart fails a negative quantity');
  t.equal((await fetch(`http://127.0.0.1:${proxy.httpPort}/carts/ann`)).status, 200);

  const scraped = await (await fetch(`http://127.0.0.1:${proxy.httpPort}/metrics`)).text();
  const series = (name: string) => `cloudstate_eventsourced_${name}{entity_name="shopping-cart"}`;
  for (const [name, value] of [
    ['activated_entities_total', 1],
    ['recovery_time_seconds_count', 1],
    ['received_commands_total', 4],
    ['command_processing_time_seconds_count', 4],
    ['failed_commands_total', 1],
    ['completed_commands_total', 4],
    ['command_total_time_seconds_count', 4],
    ['persist_time_seconds_count', 2],
    ['persisted_events_total', 2],
    ['passivated_entities_total', 0],
  ] as const) {
    t.match(scraped, `\n${series(name)} ${value}\n`, `${name} ${value}`);
  }
  t.match(scraped, /\ncloudstate_eventsourced_persisted_event_bytes_total\{entity_name="shopping-cart"\} [1-9]\d*\n/, 'the events’ bytes');
  t.match(scraped, 'cloudstate_ingress_requests_total', 'beside the ingress metrics');

  const onMetricsPort = await (await fetch(`http://127.0.0.1:${proxy.metricsPort!}/metrics`)).text();
  t.same(cartSeries(onMetricsPort), cartSeries(scraped), 'the metrics port serves the same entity series');
});
