import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';

const script = join(import.meta.dirname, '..', 'support', 'cluster-node.ts');

interface Proc {
  proc: ChildProcess;
  address: string;
  id: string;
  events: { type: string; id: string }[];
}

const procs: Proc[] = [];
t.teardown(() => procs.forEach((p) => p.proc.kill('SIGKILL')));

function startNode(seeds: string[]): Promise<Proc> {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...seeds], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buffered = '';
    let me: Proc | undefined;
    proc.once('exit', (code) => me === undefined && reject(new Error(`node exited early with ${code}`)));
    proc.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('ready ')) {
          const [, address, id] = line.split(' ');
          me = { proc, address: address!, id: id!, events: [] };
          procs.push(me);
          resolve(me);
        } else if (me && line.startsWith('{')) me.events.push(JSON.parse(line) as { type: string; id: string });
      }
    });
  });
}

/** Polls until `done()` or the deadline; real time, real processes. */
async function eventually(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (done()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return done();
}

/** Whether `p` has seen `id` join and not leave or fail since. */
const sees = (p: Proc, id: string) => {
  const last = p.events.filter((e) => e.id === id).at(-1);
  return last?.type === 'joined' || last?.type === 'recovered';
};

t.test('5 processes on loopback: join, kill -9, a new member, a graceful leave', async (t) => {
  const first = await startNode([]);
  const rest = await Promise.all([1, 2, 3, 4].map(() => startNode([first.address])));
  const all = [first, ...rest];
  t.ok(await eventually(() => all.every((p) => all.every((q) => q === p || sees(p, q.id))), 15_000), 'all 5 see each other');

  const victim = all[2]!;
  const killedAt = Date.now();
  victim.proc.kill('SIGKILL');
  const survivors = all.filter((p) => p !== victim);
  const dead = await eventually(() => survivors.every((p) => p.events.some((e) => e.id === victim.id && e.type === 'failed')), 20_000);
  t.ok(dead, `the 4 survivors see the killed member failed (${Date.now() - killedAt} ms)`);

  const newcomer = await startNode([first.address, rest[0]!.address]);
  t.ok(await eventually(() => survivors.every((p) => sees(p, newcomer.id)) && survivors.every((p) => sees(newcomer, p.id)), 15_000), 'a new member joins and sees everyone');

  const leaver = all[3]!;
  const others = [...survivors.filter((p) => p !== leaver), newcomer];
  const before = new Map(others.map((p) => [p, p.events.length]));
  leaver.proc.kill('SIGTERM');
  t.ok(await eventually(() => others.every((p) => p.events.some((e) => e.id === leaver.id && e.type === 'left')), 15_000), 'the others see a leave');
  const after = (p: Proc) => p.events.slice(before.get(p));
  t.ok(others.every((p) => !after(p).some((e) => e.id === leaver.id && (e.type === 'failed' || e.type === 'suspected'))), 'not a failure');
});
