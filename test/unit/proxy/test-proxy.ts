/**
 * An in-process proxy for the proxy's end-to-end unit tests: a dev cluster of one, the
 * in-memory store, the ingress on a free port of 127.0.0.1, the user function at
 * 127.0.0.1:`userFunctionPort` (a fake user function, or a ./tcp-link.ts in front of one).
 */
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../../../src/core/index.js';
import { parseConfig } from '../../../src/proxy/config.js';
import type { ProxyConfig } from '../../../src/proxy/config.js';
import { startProxy } from '../../../src/proxy/proxy.js';
import type { RunningProxy } from '../../../src/proxy/proxy.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** The configuration, as the command line gives it. */
export function testProxyConfig(userFunctionPort: number): ProxyConfig {
  const parsed = parseConfig(['--dev', '--store', 'memory', '--http-port', '0', '--user-function-port', String(userFunctionPort)], {});
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.config;
}

/** Starts the proxy (resolves once it serves) and a gRPC client of its port; both stop in teardown. */
export async function startTestProxy(t: Teardown, userFunctionPort: number): Promise<{ proxy: RunningProxy; client: grpc.Client }> {
  const proxy = await startProxy(testProxyConfig(userFunctionPort), silentLogger);
  t.teardown(() => proxy.close());
  const client = new grpc.Client(`127.0.0.1:${proxy.httpPort}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  return { proxy, client };
}
