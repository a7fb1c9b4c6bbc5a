import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { CloudstateError, ManualScheduler, SeededRandom, hasCode, systemScheduler } from '../../../src/core/index.js';

const run = promisify(execFile);

t.test('manual scheduler runs tasks only when time is advanced, in due order', async (t) => {
  const s = new ManualScheduler(5_000);
  const ran: string[] = [];
  s.schedule(30, () => ran.push('c@30'));
  s.schedule(10, () => ran.push('a@10'));
  s.schedule(10, () => ran.push('b@10'));
  const cancelled = s.schedule(20, () => ran.push('cancelled'));
  cancelled.cancel();
  t.same(ran, []);
  t.equal(s.pending, 3);
  s.advance(10);
  t.same(ran, ['a@10', 'b@10'], 'same instant: order of scheduling');
  t.equal(s.monotonic(), 10);
  t.equal(s.now(), 5_010);
  s.advance(100);
  t.same(ran, ['a@10', 'b@10', 'c@30']);
  t.equal(s.pending, 0);
});

t.test('manual scheduler: repeating tasks, tasks scheduled by tasks, negative delays', async (t) => {
  const s = new ManualScheduler();
  const ticks: number[] = [];
  const rep = s.scheduleRepeatedly(5, 10, () => ticks.push(s.monotonic()));
  s.schedule(-3, () => s.schedule(7, () => ticks.push(-s.monotonic())));
  s.advance(30);
  t.same(ticks, [5, -7, 15, 25]);
  rep.cancel();
  s.advance(100);
  t.same(ticks, [5, -7, 15, 25]);
});

t.test('manual scheduler: advanceAsync lets promise chains on timers run at their virtual time', async (t) => {
  const s = new ManualScheduler();
  const seen: number[] = [];
  const loop = (async () => {
    for (let i = 0; i < 3; i++) {
      await s.sleep(100);
      seen.push(s.monotonic());
    }
  })();
  await s.advanceAsync(250);
  t.same(seen, [100, 200]);
  await s.advanceAsync(50);
  await loop;
  t.same(seen, [100, 200, 300]);
});

t.test('system scheduler timers do not keep a process alive', async (t) => {
  const script = `import { systemScheduler } from './src/core/index.ts';
    systemScheduler.schedule(60_000, () => console.log('late'));
    systemScheduler.scheduleRepeatedly(60_000, 60_000, () => console.log('tick'));`;
  // With ref'd timers this child would live for a minute; the timeout turns that into a failure.
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 20_000 });
  t.equal(stdout, '', 'the process exited with its timers still pending');
});

t.test('system scheduler timers run on time and can be cancelled', async (t) => {
  const keepAlive = setInterval(() => undefined, 1000); // our timers are unref'd: hold the process for the test
  t.teardown(() => clearInterval(keepAlive));
  let ran = false;
  const c = systemScheduler.schedule(5, () => (ran = true));
  c.cancel();
  await systemScheduler.sleep(20);
  t.equal(ran, false);
  let count = 0;
  const rep = systemScheduler.scheduleRepeatedly(0, 5, () => count++);
  await systemScheduler.sleep(40);
  rep.cancel();
  const after = count;
  t.ok(after >= 2, `repeating task ran ${after} times`);
  await systemScheduler.sleep(20);
  t.equal(count, after, 'nothing runs after cancel');
});

t.test('seeded random replays from its seed and stays in range', async (t) => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const xs = Array.from({ length: 100 }, () => a.next());
  t.same(Array.from({ length: 100 }, () => b.next()), xs, 'same seed, same sequence');
  t.not(new SeededRandom(43).next(), xs[0], 'another seed, another sequence');
  t.ok(xs.every((x) => x >= 0 && x < 1));
  const r = new SeededRandom(7);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 10_000; i++) counts[r.int(10)]++;
  t.ok(counts.every((c) => c > 800 && c < 1200), `int(10) is roughly uniform: ${counts}`);
  const items = Array.from({ length: 20 }, (_, i) => i);
  const shuffled = r.shuffle(items);
  t.same([...shuffled].sort((x, y) => x - y), items, 'shuffle is a permutation');
  t.not(shuffled.join(), items.join());
  const sample = r.sample(items, 5);
  t.equal(new Set(sample).size, 5);
  t.throws(() => r.int(0), RangeError);
  const f1 = new SeededRandom(9).fork();
  const f2 = new SeededRandom(9).fork();
  t.equal(f1.next(), f2.next(), 'forks of equal generators are equal');
});

t.test('errors carry a stable code and their cause', async (t) => {
  const cause = new Error('socket closed');
  const err = new CloudstateError('ERR_EXAMPLE', 'it broke', { cause });
  t.equal(err.code, 'ERR_EXAMPLE');
  t.equal(err.cause, cause);
  t.equal(err.name, 'CloudstateError');
  t.ok(hasCode(err, 'ERR_EXAMPLE'));
  t.notOk(hasCode(cause, 'ERR_EXAMPLE'));
});
