/**
 * Three (or `count`) real proxy processes in one cluster over one fresh PostgreSQL server
 * (fsync off: these tests are about consistency across nodes, not about the disk), each beside
 * its own user function, as the multi-node tests run them. Everything is stopped when the test
 * ends. The returned array is the test's to change: a test that kills a proxy pops it first.
 */
import type { Test } from 'tap';
import { startPostgres } from './postgres-server.js';
import { startProxy, type ProxyProcess } from './proxy-process.js';

export async function proxiesOverPostgres(t: Test, userFunctionScript: string, count = 3): Promise<ProxyProcess[]> {
  const db = await startPostgres({ fsync: false });
  t.teardown(() => db.destroy());
  const common = ['--store', 'postgres', '--postgres-url', db.url, '--cluster-preset', 'local', '--number-of-shards', '20', '--cluster-port', '0'];
  const start = (seeds: string[]) => startProxy([...common, ...seeds], {}, 60_000, { userFunctionScript });
  const proxies = [await start([])];
  t.teardown(async () => {
    for (const p of proxies) await p.kill();
  });
  while (proxies.length < count) proxies.push(await start(['--seeds', proxies[0]!.clusterAddress]));
  return proxies;
}
