// A member learns that it was declared dead even when the gossip that said so has long stopped
// spreading: a push-pull that shows it dead in the peer's table is a death verdict (the peer's
// side may have downed it), not just a suspicion to refute in silence.
import t from 'tap';
import { presets } from '../../../src/cluster/config.js';
import { Sim } from '../../sim/harness.js';

/** Awaits `p` while virtual time runs (the exchange travels through the simulated network). */
async function settle<T>(sim: Sim, p: Promise<T>): Promise<T> {
  let done = false;
  void p.finally(() => (done = true)).catch(() => undefined);
  while (!done) await sim.run(10);
  return p;
}

t.test('a push-pull from a peer that holds this node dead reports declared-dead', async (t) => {
  const sim = new Sim({ nodes: 2, seed: 11, config: presets.local });
  await sim.startAll();
  const [a, b] = sim.nodes as [(typeof sim.nodes)[0], (typeof sim.nodes)[0]];
  let verdicts = 0;
  a.events.on('declared-dead', () => verdicts++);

  sim.network.partition([Sim.address(0)], [Sim.address(1)]);
  t.ok((await sim.until(() => b.member(a.id)?.status === 'dead', 10_000)) !== undefined, 'b declares a dead');
  // Long enough for b to stop gossiping about it (retransmits spent, gossip to the dead over).
  await sim.run(presets.local.gossipToTheDeadMs + 500);
  t.equal(verdicts, 0, 'a heard nothing while cut off');

  sim.network.heal();
  t.equal(await settle(sim, a.exchangeWith([Sim.address(1)])), 1, 'a exchanges state with b');
  t.ok(verdicts >= 1, 'a learns it was declared dead');
  await sim.until(() => b.member(a.id)?.status === 'alive', 5000);
  t.equal(b.member(a.id)?.status, 'alive', 'and b sees a alive again (refuted)');
  for (const n of sim.nodes) n.stop();
});

t.test('a member that revives itself in a peer\'s table by its own push-pull still hears it was held dead', async (t) => {
  const sim = new Sim({ nodes: 2, seed: 13, config: presets.local });
  await sim.startAll();
  const [a, b] = sim.nodes as [(typeof sim.nodes)[0], (typeof sim.nodes)[0]];
  let verdicts = 0;
  a.events.on('declared-dead', () => verdicts++);
  sim.network.partition([Sim.address(0)], [Sim.address(1)]);
  await sim.until(() => b.member(a.id)?.status === 'dead', 10_000);
  const deadAt = b.member(a.id)!.incarnation;
  a.updateMeta({ ...a.self.meta, roles: ['r'] }); // a's incarnation passes the one b holds dead
  await sim.run(presets.local.gossipToTheDeadMs + 500);
  t.ok(a.self.incarnation > deadAt, 'a is ahead of the verdict');
  sim.network.heal();
  t.equal(await settle(sim, a.exchangeWith([Sim.address(1)])), 1, 'a exchanges state with b');
  t.equal(b.member(a.id)?.status, 'alive', 'b takes a back at once (its news is newer than the verdict)');
  t.ok(verdicts >= 1, 'and a learns it had been declared dead');
  for (const n of sim.nodes) n.stop();
});

t.test('a push-pull that shows a member dead, when it is about someone else, stays a suspicion', async (t) => {
  const sim = new Sim({ nodes: 3, seed: 12, config: presets.local });
  await sim.startAll();
  const [a, b, c] = sim.nodes as [(typeof sim.nodes)[0], (typeof sim.nodes)[0], (typeof sim.nodes)[0]];
  let verdicts = 0;
  a.events.on('declared-dead', () => verdicts++);
  // c is cut off from b only; b declares it dead; a still reaches c.
  sim.network.block(Sim.address(1), Sim.address(2));
  sim.network.block(Sim.address(2), Sim.address(1));
  await sim.until(() => b.member(c.id)?.status === 'dead', 10_000);
  t.equal(await settle(sim, a.exchangeWith([Sim.address(1)])), 1, 'a exchanges state with b');
  t.equal(verdicts, 0, 'no death verdict about a');
  t.not(a.member(c.id)?.status, 'dead', 'and a does not take b’s word that c is dead');
  for (const n of sim.nodes) n.stop();
});
