// The proxy's optional metrics and management ports (the reference's METRICS_PORT and Akka
// management port), and its graceful-termination timeout reaching the ingress: a whole proxy
// in this process (dev mode, memory store) in front of a scripted user function.
import * as grpc from '@grpc/grpc-js';
import t, { type Test } from 'tap';
import { silentLogger } from '../../../src/core/index.js';
import type { ActionResponse } from '../../../src/protocol/index.js';
import { parseConfig } from '../../../src/proxy/config.js';
import { startProxy, type RunningProxy } from '../../../src/proxy/proxy.js';
import { anyOf, FakeUserFunction, msg, msgText, testSpec } from './entities/fake-user-function.js';

const identity = (b: Buffer) => b;

async function startUserFunction(t: Test): Promise<FakeUserFunction> {
  const uf = await new FakeUserFunction().start();
  uf.spec = testSpec();
  uf.actions.unary = (): ActionResponse => ({ reply: { payload: anyOf('t.Msg', msg('pong')) } });
  t.teardown(() => uf.stop());
  return uf;
}

async function proxyWith(t: Test, uf: FakeUserFunction, argv: string[]): Promise<RunningProxy> {
  const parsed = parseConfig(['--dev', '--store', 'memory', '--http-port', '0', '--user-function-port', String(uf.port), ...argv], {});
  if (parsed.help) throw new Error('unexpected --help');
  const proxy = await startProxy(parsed.config, silentLogger);
  t.teardown(() => proxy.close());
  return proxy;
}

/** TCP servers listening in this process. */
const tcpServers = () => process.getActiveResourcesInfo().filter((name) => name === 'TCPServerWrap').length;

function callPing(proxy: RunningProxy): Promise<{ error: grpc.ServiceError | null; text: string | undefined }> {
  const client = new grpc.Client(`127.0.0.1:${proxy.httpPort}`, grpc.credentials.createInsecure());
  return new Promise((resolve) =>
    client.makeUnaryRequest('/t.Act/Unary', identity, identity, Buffer.from(msg('ping')), (error, value) => {
      client.close();
      resolve({ error, text: value === undefined ? undefined : msgText(value) });
    }),
  );
}

const get = async (port: number, path: string) => {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
};

t.test('without --metrics-port and --management-port, only the ingress serves the endpoints; with them, those ports do too', async (t) => {
  const uf = await startUserFunction(t);
  const before = tcpServers();
  const plain = await proxyWith(t, uf, []);
  const opened = tcpServers() - before; // the ingress and the cluster transport
  t.equal(plain.metricsPort, undefined);
  t.equal(plain.managementPort, undefined);
  t.match(await get(plain.httpPort, '/metrics'), { status: 200 }, 'the ingress port serves /metrics as before');

  // A second proxy beside the first (counting after a close would count the closing handles).
  const beforeBoth = tcpServers();
  const proxy = await proxyWith(t, uf, ['--metrics-port', '0', '--management-port', '0']);
  t.equal(tcpServers() - beforeBoth, opened + 2, 'two more listeners, no others');
  t.ok(proxy.metricsPort !== undefined && proxy.managementPort !== undefined);
  const metricsPort = proxy.metricsPort!;
  const managementPort = proxy.managementPort!;

  t.same(await callPing(proxy), { error: null, text: 'pong' }, 'a call through the ingress');
  const scraped = await get(metricsPort, '/metrics');
  t.equal(scraped.status, 200);
  t.match(scraped.body, 'cloudstate_ingress_requests_total{protocol="grpc",method="/t.Act/Unary",status="OK"} 1', 'the ingress counters');
  t.match(scraped.body, 'cloudstate_proxy_process_cpu_seconds_total', 'and the process metrics, as on the ingress port');
  for (const path of ['/ready', '/alive']) t.same(await get(managementPort, path), await get(proxy.httpPort, path), `${path} as on the ingress port`);
  t.same(await get(managementPort, '/ready'), { status: 200, body: 'ready' });
  t.equal((await get(proxy.httpPort, '/metrics')).status, 200, 'the ingress port still serves /metrics');

  await proxy.close();
  await t.rejects(fetch(`http://127.0.0.1:${metricsPort}/metrics`), 'the metrics port is closed');
  await t.rejects(fetch(`http://127.0.0.1:${managementPort}/ready`), 'the management port is closed');
});

/** A user function whose action answers only when the test says so. */
async function heldUserFunction(t: Test) {
  const uf = await startUserFunction(t);
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let arrived!: () => void;
  const arrival = new Promise<void>((resolve) => (arrived = resolve));
  uf.actions.unary = async (): Promise<ActionResponse> => {
    arrived();
    await released;
    return { reply: { payload: anyOf('t.Msg', msg('late pong')) } };
  };
  t.teardown(() => release());
  return { uf, release, arrival };
}

t.test('--graceful-termination-timeout reaches the ingress: a call in flight at stop completes within it', async (t) => {
  const { uf, release, arrival } = await heldUserFunction(t);
  const proxy = await proxyWith(t, uf, ['--graceful-termination-timeout', String(10 * 60_000)]);
  const call = callPing(proxy);
  await arrival;
  let closed = false;
  const closing = proxy.close().then(() => (closed = true));
  await t.rejects(fetch(`http://127.0.0.1:${proxy.httpPort}/alive`), 'the proxy stopped accepting');
  t.equal(closed, false, 'the stop waits for the call');
  release();
  t.same(await call, { error: null, text: 'late pong' }, 'the call in flight completed');
  await closing;
});

t.test('--graceful-termination-timeout 0: a call in flight at stop is cut at once', async (t) => {
  const { uf, arrival } = await heldUserFunction(t);
  const proxy = await proxyWith(t, uf, ['--graceful-termination-timeout', '0']);
  const call = callPing(proxy);
  await arrival;
  await proxy.close();
  const { error } = await call;
  t.not(error, null, `the call failed (${error?.code} ${error?.details})`);
});
