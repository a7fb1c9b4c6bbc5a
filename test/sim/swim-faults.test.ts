import t from 'tap';
import { Sim, simSeed } from './harness.js';

const seed = simSeed(7);
t.comment(`seed ${seed} (replay with SIM_SEED=${seed})`);

t.test('with 10% packet loss no live node is declared dead over 2,000 probe periods', async (t) => {
  const sim = new Sim({ nodes: 50, seed, lossRate: 0.1 });
  await sim.startAll();
  await sim.until(() => sim.converged(), 60_000);
  const periods = 2000;
  await sim.run(periods * sim.config.probeIntervalMs);
  const fp = sim.falsePositives();
  t.same(fp.map((e) => `${e.observer} declared ${e.event.member.id} dead at ${e.at}`), [], 'zero false positives');
  const suspected = sim.events.filter((e) => e.event.type === 'suspected').length;
  t.comment(`suspicions raised and refuted meanwhile: ${suspected}`);
  t.ok(sim.converged(), 'still everyone alive to everyone');
  const perMemberPerPeriod = [...sim.network.sent.values()].reduce((a, b) => a + b, 0) / 50 / (periods + 1);
  t.ok(perMemberPerPeriod < 30, `packets per member per probe period: ${perMemberPerPeriod.toFixed(1)}`);
});

t.test('a partition: each side declares the other dead, and after healing membership converges', async (t) => {
  const sim = new Sim({ nodes: 20, seed: seed + 1 });
  await sim.startAll();
  await sim.until(() => sim.converged(), 60_000);
  const a = sim.nodes.slice(0, 10).map((n) => n.member(n.id)!.address);
  const b = sim.nodes.slice(10).map((n) => n.member(n.id)!.address);
  sim.network.partition(a, b);
  const split = await sim.until(
    () => sim.nodes.slice(0, 10).every((n) => sim.nodes.slice(10).every((o) => n.member(o.id)?.status === 'dead')),
    180_000,
  );
  t.ok(split !== undefined, `side A sees all of side B dead after ${split} ms`);
  sim.network.heal();
  const healed = await sim.until(() => sim.converged(), 300_000, 200);
  t.ok(healed !== undefined, `after healing, all 20 see each other alive again within ${healed} ms`);
  const recoveredIds = new Set(sim.events.filter((e) => e.event.type === 'joined' && e.at > 0).map((e) => e.event.member.id));
  t.ok(recoveredIds.size >= 10, 'members came back as (re)joined');
});

t.test('a paused node (slow, not dead) is suspected, refutes when it wakes, and is never declared dead', async (t) => {
  const sim = new Sim({ nodes: 30, seed: seed + 2 });
  await sim.startAll();
  await sim.until(() => sim.converged(), 60_000);
  const sleeper = sim.nodes[5]!;
  const address = sleeper.member(sleeper.id)!.address;
  sim.network.pause(address);
  const suspected = await sim.until(() => sim.events.some((e) => e.event.type === 'suspected' && e.event.member.id === sleeper.id), 10_000);
  t.ok(suspected !== undefined, `suspected ${suspected} ms into the pause`);
  await sim.run(1500);
  sim.network.resume(address);
  const back = await sim.until(() => sim.converged(), 30_000);
  t.ok(back !== undefined, `everyone sees it alive ${back} ms after it woke`);
  t.ok(sleeper.self.incarnation > 0, `it refuted (incarnation ${sleeper.self.incarnation})`);
  t.same(sim.falsePositives(), [], 'it was never declared dead');
});

t.test('a graceful leave is seen as a leave, not a failure', async (t) => {
  const sim = new Sim({ nodes: 10, seed: seed + 3 });
  await sim.startAll();
  await sim.until(() => sim.converged(), 60_000);
  const leaver = sim.nodes[3]!;
  const leaving = leaver.leave(2000);
  const seen = await sim.until(() => sim.nodes.filter((n) => n !== leaver).every((n) => n.member(leaver.id)?.status === 'left'), 10_000);
  t.ok(seen !== undefined, `everyone saw the leave within ${seen} ms`);
  await sim.run(2000); // leave() waits 2 s for the news to spread, then stops the node
  await leaving;
  const about = sim.events.filter((e) => e.event.member.id === leaver.id && e.at > 0);
  t.equal(about.filter((e) => e.event.type === 'left').length, 9, 'all 9 others saw it leave');
  t.equal(about.filter((e) => e.event.type === 'failed' || e.event.type === 'suspected').length, 0, 'no one suspected it or saw it fail');
});

t.test('the same seed replays the same run', async (t) => {
  const trace = async () => {
    const sim = new Sim({ nodes: 12, seed: seed + 4, lossRate: 0.05 });
    await sim.startAll();
    sim.kill(4);
    await sim.run(30_000);
    return sim.events.map((e) => `${e.at} ${e.observer} ${e.event.type} ${e.event.member.id}/${e.event.member.incarnation}`);
  };
  const first = await trace();
  t.ok(first.length > 12, `${first.length} events`);
  t.same(await trace(), first, 'identical event log');
});
