// The local process scaler with small real child processes (node -e): `{index}` filled in, the
// newest stopped first with SIGTERM (a graceful leave), SIGKILL after the stop timeout, a
// crashed node forgotten and replaced by the next scale call, and stopAll.
import t from 'tap';
import { LocalProcessScaler } from '../../../src/autoscale/local-process-scaler.js';
import type { LocalNode } from '../../../src/autoscale/local-process-scaler.js';

// Prints "up <arg> <env>", exits 0 on SIGTERM (after saying so), or never if IGNORE_TERM is set;
// exits 3 on "crash" from stdin.
const NODE = `
process.stdout.write('up ' + process.argv[1] + ' ' + process.env.NODE_NAME + '\\n');
process.on('SIGTERM', () => { if (!process.env.IGNORE_TERM) { process.stdout.write('leaving\\n'); process.exit(0); } });
process.stdin.on('data', (d) => { if (String(d).includes('crash')) process.exit(3); });
setInterval(() => {}, 1000);
`;

const firstLine = (node: LocalNode) =>
  new Promise<string>((resolve) => {
    let out = '';
    node.process.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
  });

function scalerFor(env: Record<string, string> = {}) {
  const scaler = new LocalProcessScaler({ command: process.execPath, args: ['-e', NODE, 'node-{index}'], env: { NODE_NAME: 'n{index}', ...env }, stdio: ['pipe', 'pipe', 'inherit'], stopTimeoutMs: 300 });
  t.teardown(() => scaler.stopAll());
  return scaler;
}

t.test('starts from the template and stops the newest with SIGTERM', async (t) => {
  const scaler = scalerFor();
  const started: Promise<string>[] = [];
  scaler.on('started', (n) => started.push(firstLine(n)));
  await scaler.scale(2);
  t.same(scaler.nodes.map((n) => n.index), [1, 2]);
  t.same(await Promise.all(started), ['up node-1 n1', 'up node-2 n2'], '{index} in arguments and environment');
  const stopping: number[] = [];
  const exits: [number, number | null, string | null][] = [];
  scaler.on('stopping', (n) => stopping.push(n.index));
  scaler.on('exited', (n, code, signal) => exits.push([n.index, code, signal]));
  const second = scaler.nodes[1]!;
  let said = '';
  second.process.stdout!.on('data', (c: Buffer) => (said += c.toString()));
  await scaler.scale(1);
  t.same(stopping, [2], 'the newest is told to stop');
  t.same(scaler.nodes.map((n) => n.index), [1], 'and no longer counts');
  await second.exited;
  t.same(exits, [[2, 0, null]], 'it handled SIGTERM and exited by itself');
  t.match(said, /leaving/);
  await scaler.scale(1);
  t.same(scaler.nodes.map((n) => n.index), [1], 'the same count again changes nothing');
});

t.test('a node that ignores SIGTERM is killed after the stop timeout', async (t) => {
  const scaler = scalerFor({ IGNORE_TERM: '1' });
  await scaler.scale(1);
  const node = scaler.nodes[0]!;
  await firstLine(node);
  const exit = new Promise<string | null>((resolve) => scaler.once('exited', (_n, _code, signal) => resolve(signal)));
  const t0 = Date.now();
  await scaler.scale(0);
  t.equal(await exit, 'SIGKILL');
  t.ok(Date.now() - t0 >= 250, 'after the timeout');
});

t.test('a crashed node is forgotten and replaced; unmanaged members count', async (t) => {
  const scaler = new LocalProcessScaler({ command: process.execPath, args: ['-e', NODE, 'x'], stdio: ['pipe', 'pipe', 'inherit'], unmanaged: 1, stopTimeoutMs: 300 });
  t.teardown(() => scaler.stopAll());
  await scaler.scale(2);
  t.equal(scaler.nodes.length, 1, 'one of the two members is not ours');
  const node = scaler.nodes[0]!;
  await firstLine(node);
  node.process.stdin!.write('crash\n');
  await node.exited;
  t.equal(scaler.nodes.length, 0, 'forgotten');
  await scaler.scale(2);
  t.same(scaler.nodes.map((n) => n.index), [2], 'replaced by a new node (numbers are not reused)');
  await scaler.stopAll();
  t.equal(scaler.nodes.length, 0);
});
