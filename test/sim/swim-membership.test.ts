import t from 'tap';
import { Sim, simSeed } from './harness.js';

const seed = simSeed(20261123);
t.comment(`seed ${seed} (replay with SIM_SEED=${seed})`);

t.test('50 nodes join through one seed and converge; one killed is declared dead by all', async (t) => {
  const sim = new Sim({ nodes: 50, seed });
  await sim.startAll();
  const convergedIn = await sim.until(() => sim.converged(), 60_000);
  t.ok(convergedIn !== undefined, `all 50 see each other alive (after ${convergedIn} ms of virtual time)`);

  const victim = sim.nodes[17]!;
  sim.kill(17);
  const killedAt = sim.scheduler.monotonic();
  const detectedIn = await sim.until(() => sim.live().every((n) => n.member(victim.id)?.status === 'dead'), 120_000);
  t.ok(detectedIn !== undefined, `every live node sees ${victim.id} dead, ${detectedIn} ms after the kill`);
  const failed = sim.events.filter((e) => e.event.type === 'failed' && e.event.member.id === victim.id);
  t.equal(new Set(failed.map((e) => e.observer)).size, 49, 'each of the 49 reported it failed once');
  t.ok(failed.every((e) => e.at >= killedAt), 'no one declared it dead before it died');
  t.same(sim.falsePositives(), [], 'no live node was declared dead');
  t.ok(sim.nodes.every((n) => n.stats.malformed === 0), 'no malformed packets');
});

t.test('20 nodes with packets duplicated (20 %) and reordered (jitter 20× the latency): converge, detect a kill, no false positive', async (t) => {
  const sim = new Sim({ nodes: 20, seed: seed + 2, latencyMs: 2, jitterMs: 40, duplicateRate: 0.2 });
  await sim.startAll();
  t.ok((await sim.until(() => sim.converged(), 60_000)) !== undefined, 'all 20 see each other alive');
  await sim.run(200 * sim.config.probeIntervalMs);
  t.same(sim.falsePositives(), [], 'no live node declared dead over 200 probe periods');
  const victim = sim.nodes[5]!;
  sim.kill(5);
  t.ok((await sim.until(() => sim.live().every((n) => n.member(victim.id)?.status === 'dead'), 120_000)) !== undefined, 'the killed one is declared dead by all');
  t.ok(sim.nodes.every((n) => n.stats.malformed === 0), 'duplicates are not malformed, just old news');
});
