// The README's examples are real files, run here, so the README cannot drift from what works.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';

const run = promisify(execFile);
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

t.test('persistence quickstart: shown in the README verbatim, and it runs', async (t) => {
  const source = readFileSync(new URL('../../examples/persistence-quickstart.ts', import.meta.url), 'utf8');
  t.ok(readme.includes(source.trim()), 'README shows examples/persistence-quickstart.ts as it is');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/persistence-quickstart.ts']);
  t.equal(stdout, '1 ItemAdded:apple\n2 ItemAdded:pear\nhighest seqNr: 2\n');
});

t.test('cluster quickstart: shown in the README verbatim, and it runs', async (t) => {
  const source = readFileSync(new URL('../../examples/cluster-quickstart.ts', import.meta.url), 'utf8');
  t.ok(readme.includes(source.trim()), 'README shows examples/cluster-quickstart.ts as it is');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/cluster-quickstart.ts']);
  t.equal(stdout, 'a sees: a up, b up\nb got "hello" from a\nping #1, handled on a\nping #1, handled on b\n');
  t.ok(readme.includes(stdout.trim()), 'README shows what it prints');
});

t.test('CRDT quickstart: shown in the README verbatim, and it runs', async (t) => {
  const source = readFileSync(new URL('../../examples/crdt-quickstart.ts', import.meta.url), 'utf8');
  t.ok(readme.includes(source.trim()), 'README shows examples/crdt-quickstart.ts as it is');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/crdt-quickstart.ts']);
  t.equal(stdout, 'visits on b: 5\nonline on a: ann\n');
  t.ok(readme.includes(stdout.trim()), 'README shows what it prints');
});

t.test('sharded counter: shown in the README verbatim; two processes share it, and it survives a restart of both', async (t) => {
  const source = readFileSync(new URL('../../examples/sharded-counter.ts', import.meta.url), 'utf8');
  t.ok(readme.includes(source.trim()), 'README shows examples/sharded-counter.ts as it is');
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), 'cs-example-'));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  const startHost = async () => {
    const host = spawn(process.execPath, ['--import', 'tsx', 'examples/sharded-counter.ts', 'host', String(port), directory], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => host.kill('SIGKILL'));
    const first = await new Promise<string>((resolve, reject) => {
      host.stdout.once('data', (d: Buffer) => resolve(d.toString()));
      host.once('exit', (code) => reject(new Error(`host exited with ${code}`)));
    });
    return { host, first };
  };
  const visit = async () => (await run(process.execPath, ['--import', 'tsx', 'examples/sharded-counter.ts', 'visit', String(port)])).stdout;
  const stop = (host: ChildProcess) => new Promise((resolve) => (host.once('exit', resolve), host.kill('SIGTERM')));

  let { host, first } = await startHost();
  t.equal(first, 'host: up, 0 visits so far\n');
  t.equal(await visit(), 'visit: home-page has 1 visits\n');
  t.equal(await visit(), 'visit: home-page has 2 visits\n');
  await stop(host);
  ({ host, first } = await startHost());
  t.equal(first, 'host: up, 2 visits so far\n', 'the host recovered the counter from its journal');
  t.equal(await visit(), 'visit: home-page has 3 visits\n');
  await stop(host);
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

t.test('the README states the two commands, and .ci/run runs the test one', async (t) => {
  t.match(readme, /npm ci && npm start/);
  t.match(readme, /npm ci && npm test/);
  t.match(readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8'), /^npm ci && npm test$/m);
});
