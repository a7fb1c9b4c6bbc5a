// `startAutoscaling` on a real Cluster of three members over the in-memory network, on virtual
// time: every member's recorder reports through the cluster to the singleton on the oldest
// member, which decides; every member learns the state from the answers to its reports; when
// the host leaves, the singleton starts on the next member and carries on from that state
// (still in the stable period: no second decision on the spike of the hand-over).
import t from 'tap';
import { NoScaler, startAutoscaling } from '../../src/autoscale/index.js';
import type { Autoscaling } from '../../src/autoscale/index.js';
import { Cluster } from '../../src/cluster/index.js';
import { InMemoryNetwork } from '../../src/cluster/transports/in-memory.js';
import { ManualScheduler, SeededRandom } from '../../src/core/index.js';
import { simSeed } from './harness.js';

const seed = simSeed(77);
t.comment(`seed ${seed} (replay with SIM_SEED=${seed})`);

t.test('reports reach the singleton, it decides, the state survives a hand-over', async (t) => {
  const scheduler = new ManualScheduler();
  const random = new SeededRandom(seed);
  const network = new InMemoryNetwork({ scheduler, random: random.fork(), latencyMs: 1 });
  const clock = { now: () => 1_000_000 + scheduler.monotonic(), monotonic: () => scheduler.monotonic() };
  const run = async (ms: number) => {
    for (let left = ms; left > 0; left -= 10) {
      scheduler.advance(Math.min(10, left));
      await new Promise((r) => setImmediate(r));
    }
  };
  const scaler = new NoScaler();
  const nodes: Cluster[] = [];
  const autoscaling: Autoscaling[] = [];
  for (let i = 0; i < 3; i++) {
    const address = `127.0.2.${i + 1}:7946`;
    const cluster = await Cluster.start({ id: `n${i}`, seeds: ['127.0.2.1:7946'], preset: 'local', transport: network.transport(address), scheduler: network.scheduler(address), clock, random: random.fork() });
    nodes.push(cluster);
    await run(1000); // joins in order: n0 is the oldest
  }
  t.teardown(async () => {
    for (const a of autoscaling) await a.stop();
    for (const n of nodes) await n.shutdown();
  });
  await run(3000);
  t.same(nodes[2]!.upMembers().length, 3, 'three members up');
  for (let i = 0; i < 3; i++) {
    const a = startAutoscaling(nodes[i]!, { scaler: () => scaler, clock, scheduler: network.scheduler(`127.0.2.${i + 1}:7946`) });
    // Each node's user function is busy with three calls, on and on.
    for (let k = 0; k < 3; k++) a.recorder.userFunctionStarted();
    autoscaling.push(a);
  }
  await run(10_000);
  t.ok(autoscaling[0]!.instance, 'the autoscaler runs on the oldest member');
  t.notOk(autoscaling[1]!.instance ?? autoscaling[2]!.instance, 'and only there');
  t.equal(scaler.lastRequested, 5, 'concurrency 3 per node, target 1: 3 → 5 (capped by maxScale 2)');
  t.match(autoscaling[2]!.knownState, { kind: 'scaling-up', desired: 5 }, 'the other members heard the state in the answers to their reports');

  scaler.lastRequested = undefined;
  const leaving = nodes[0]!.leave();
  await run(10_000);
  await leaving;
  t.ok(autoscaling[1]!.instance, 'the singleton moved to the next oldest');
  t.match(autoscaling[1]!.instance!.state, { kind: 'scaling-up', desired: 5 }, 'it carried on from the state it had heard');
  t.equal(scaler.lastRequested, undefined, 'no new decision in the stable period, though concurrency is still over target');
  await run(180_000);
  t.equal(scaler.lastRequested, 4, 'after the stable period: two members at 3 each want 6, capped by maxScale from 2 members: 4');
});
