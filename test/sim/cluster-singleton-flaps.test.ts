// A cluster singleton across brief quorum flaps (simulation): two to four members on the
// in-memory network, virtual time. One member is paused (a starved process) or cut off for a
// few hundred ms, twice in quick succession, sometimes while its singleton is still stopping
// (hand-over) and its `hosting: false` announcement is pending; the oldest member has the
// lowest address or the highest (keep-majority breaks a tie for the lowest). After the network is whole
// again, within a bounded time, exactly one member hosts the singleton and every member
// agrees where it is; at no step of virtual time do two instances run.
//
// SIM_FLAP_CASES=n runs n random cases instead of the default set (exploration), SIM_SEED moves
// the seed, SIM_FLAP_NODES the most members (default 4), SIM_FLAP_CASE='{…}' replays one case
// as printed, SIM_LOG=info logs what the nodes do.
import t from 'tap';
import { pino } from 'pino';
import { Cluster } from '../../src/cluster/index.js';
import type { ClusterSingleton } from '../../src/cluster/index.js';
import { ManualScheduler, SeededRandom } from '../../src/core/index.js';
import { InMemoryNetwork } from '../../src/cluster/transports/in-memory.js';
import { simSeed } from './harness.js';

const addressOf = (i: number) => `127.0.1.${i + 1}:7946`;

interface Case {
  seed: number;
  nodes: number;
  /** The oldest member has the highest address (keep-majority breaks a tie for the lowest address). */
  reversed: boolean;
  /** Which member flaps: its index (0 is the oldest, the first host). */
  victim: number;
  /** `one-way`: the victim's packets and exchanges to the others are lost, theirs to it arrive. */
  fault: 'pause' | 'partition' | 'one-way';
  /** Length of the first and second outage, and the gap between them, ms. */
  first: number;
  gap: number;
  second: number;
  /** How long the instance's `stop()` takes (a hand-over in progress), ms. */
  stopMs: number;
  /** A third outage as long as the second, after the same gap (default none). */
  third?: boolean;
  /** Share of packets lost throughout (default 0). */
  loss?: number;
}

interface Outcome {
  /** ms after the network was whole again until exactly one host that everyone agrees on; undefined: never (or lossy). */
  settledAfter: number | undefined;
  /** The longest time after healing without one host that everyone agrees on, ms. */
  longestHostless: number;
  maxInstances: number;
  detail: string;
}

async function runCase(c: Case): Promise<Outcome> {
  const address = (i: number) => (c.reversed ? addressOf(c.nodes - 1 - i) : addressOf(i));
  const scheduler = new ManualScheduler();
  const random = new SeededRandom(c.seed);
  const network = new InMemoryNetwork({ scheduler, random: random.fork(), latencyMs: 1, lossRate: c.loss ?? 0 });
  const nodes: Cluster[] = [];
  for (let i = 0; i < c.nodes; i++) {
    nodes.push(
      await Cluster.start({
        id: `n${i}`,
        seeds: [address(0)],
        preset: 'local',
        transport: network.transport(address(i)),
        scheduler: network.scheduler(address(i)),
        clock: { now: () => 1_000_000 + scheduler.monotonic(), monotonic: () => scheduler.monotonic() },
        random: random.fork(),
        ...(process.env.SIM_LOG ? { logger: pino({ level: process.env.SIM_LOG, base: { n: `n${i}` }, mixin: () => ({ vt: scheduler.monotonic() }) }, pino.destination({ fd: 2, sync: true })) } : {}),
      }),
    );
    if (process.env.SIM_LOG) nodes[i]!.on('membership', (e) => console.error(`vt=${scheduler.monotonic()} n${i} swim ${e.type} ${e.member.id}#${e.member.incarnation} ${JSON.stringify(e.member.meta)}`));
  }
  let instances = 0;
  let maxInstances = 0;
  const singletons: ClusterSingleton<string, string>[] = nodes.map((node, i) =>
    node.singleton<string, string>({
      name: 'coordinator',
      create: () => {
        instances++;
        maxInstances = Math.max(maxInstances, instances);
        return {
          receive: () => node.self.id,
          stop: async () => {
            if (c.stopMs > 0) await network.scheduler(address(i)).sleep(c.stopMs);
            instances--;
          },
        };
      },
    }),
  );
  const step = async (ms: number) => {
    for (let left = ms; left > 0; left -= 5) {
      scheduler.advance(Math.min(5, left));
      await new Promise((r) => setImmediate(r));
      maxInstances = Math.max(maxInstances, instances);
    }
  };
  const hosts = () => singletons.filter((s) => s.isHost).length;
  /** The network is whole in everyone's eyes and exactly one member hosts, where everyone looks for it. */
  const agreed = () => {
    const host = singletons.findIndex((s) => s.isHost);
    return (
      nodes.every((n) => n.hasQuorum && n.canHost && n.upMembers().length === c.nodes) &&
      hosts() === 1 &&
      instances === 1 &&
      singletons.every((s) => s.host?.id === `n${host}`)
    );
  };
  const until = async (done: () => boolean, maxMs: number) => {
    const start = scheduler.monotonic();
    while (scheduler.monotonic() - start < maxMs) {
      if (done()) return scheduler.monotonic() - start;
      await step(20);
    }
    return done() ? scheduler.monotonic() - start : undefined;
  };
  const close = async () => {
    let closed = false;
    void Promise.allSettled(nodes.map((n) => n.shutdown())).then(() => (closed = true));
    while (!closed) await step(20); // a stopping instance may be sleeping
  };

  const formed = await until(() => nodes.every((n) => n.upMembers().length === c.nodes) && agreed(), 20_000);
  if (formed === undefined) {
    await close();
    return { settledAfter: undefined, longestHostless: Infinity, maxInstances, detail: 'the cluster never formed' };
  }
  // Let the age and hosting announcements settle everywhere first.
  await step(500);

  const victim = address(c.victim);
  const others = nodes.map((_, i) => address(i)).filter((a) => a !== victim);
  const cut = () => {
    if (c.fault === 'pause') network.pause(victim);
    else if (c.fault === 'partition') network.partition([victim], others);
    else for (const o of others) network.block(victim, o);
  };
  const mend = () => (c.fault === 'pause' ? network.resume(victim) : network.heal());
  cut();
  await step(c.first);
  mend();
  await step(c.gap);
  cut();
  await step(c.second);
  mend();
  if (c.third) {
    await step(c.gap);
    cut();
    await step(c.second);
    mend();
  }

  // Settled: agreed, and still agreed 3 s later (a flap right after healing may undo a first
  // agreement). With packet loss, false suspicions keep making members flap: there, the
  // longest time without an agreed host counts.
  const healedAt = scheduler.monotonic();
  let since: number | undefined;
  let settledAfter: number | undefined;
  let hostless: number | undefined = healedAt;
  let longestHostless = 0;
  for (let now = healedAt; now - healedAt < 8000; now = scheduler.monotonic()) {
    if (!agreed()) {
      since = undefined;
      hostless ??= now;
    } else {
      if (hostless !== undefined) longestHostless = Math.max(longestHostless, now - hostless);
      hostless = undefined;
      if ((since ??= now) <= now - 3000 && !c.loss) {
        settledAfter = since - healedAt;
        break;
      }
    }
    await step(20);
  }
  if (hostless !== undefined) longestHostless = Math.max(longestHostless, scheduler.monotonic() - hostless);
  const detail = nodes
    .map((n, i) => {
      const s = singletons[i]!;
      const ms = n.members().map((m) => `${m.id}:${m.state}${m.reachable ? '' : '!'}@${m.upSince - 1_000_000}${m.hosting ? '' : '/nh'}`);
      const swim = (n as unknown as { node: { members(): { id: string; incarnation: number; status: string }[] } }).node.members();
      const sw = swim.map((m) => `${m.id}#${m.incarnation}:${m.status}`).join(' ');
      return `n${i}: swim=[${sw}] host=${s.host?.id ?? '-'} isHost=${s.isHost} canHost=${n.canHost} quorum=${n.hasQuorum} [${ms.join(' ')}]`;
    })
    .join('; ');
  await close();
  return { settledAfter, longestHostless, maxInstances, detail };
}

/** The cases: 2 and 3 members, the host or another member flapping, paused or cut off, outages and gaps over a range of lengths. */
function cases(): Case[] {
  const base = simSeed(777);
  if (process.env.SIM_FLAP_CASE) return [JSON.parse(process.env.SIM_FLAP_CASE) as Case]; // replay one
  const explore = Number(process.env.SIM_FLAP_CASES ?? 0);
  const pick = new SeededRandom(base);
  const out: Case[] = [];
  if (explore > 0) {
    for (let k = 0; k < explore; k++) {
      const nodes = 2 + pick.int(Number(process.env.SIM_FLAP_NODES ?? 4) - 1);
      out.push({
        seed: base + k,
        nodes,
        reversed: pick.next() < 0.5,
        victim: pick.int(nodes),
        fault: (['pause', 'partition', 'one-way'] as const)[pick.int(3)]!,
        third: pick.next() < 0.3,
        loss: pick.next() < 0.3 ? 0.05 : 0,
        first: 100 + pick.int(700),
        gap: pick.int(500),
        second: 100 + pick.int(700),
        stopMs: [0, 0, 50, 250][pick.int(4)]!,
      });
    }
    return out;
  }
  // Found by exploration (SIM_FLAP_CASES=200 SIM_SEED=1) before the fixes:
  out.push(
    // both members come back up at once, each on out-of-date news of the other: two instances
    { seed: 122, nodes: 2, reversed: false, victim: 0, fault: 'partition', first: 318, gap: 234, second: 358, stopMs: 50 },
    // downed after it had come back up, and never told: the others saw it joining for ever
    { seed: 74, nodes: 3, reversed: true, victim: 0, fault: 'partition', first: 469, gap: 374, second: 670, stopMs: 0 },
    // the majority downed a member that was back (and had kept quorum: it never noticed one of
    // them missing), because an attempt to reach it hung for a whole exchange timeout: two instances
    { seed: 819, nodes: 4, reversed: false, victim: 0, fault: 'partition', first: 632, gap: 327, second: 596, stopMs: 0 },
  );
  let k = 0;
  for (const nodes of [2, 3]) {
    for (const victim of [0, 1]) {
      for (const fault of ['pause', 'partition'] as const) {
        for (const [first, gap, second, stopMs] of [
          [400, 200, 300, 0],
          [250, 60, 250, 250],
          [600, 150, 450, 50],
        ] as const) {
          for (const reversed of [false, true]) out.push({ seed: base + k++, nodes, reversed, victim, fault, first, gap, second, stopMs });
        }
      }
    }
  }
  return out;
}

t.test('after brief quorum flaps, exactly one member hosts the singleton and all agree where', async (t) => {
  const all = cases();
  const failed: string[] = [];
  let worst = 0;
  let worstLossy = 0;
  for (const c of all) {
    const o = await runCase(c);
    const name = JSON.stringify(c);
    if (o.maxInstances > 1) failed.push(`${name}: two instances at once: ${o.detail}`);
    if (c.loss) {
      if (o.longestHostless > 3000) failed.push(`${name}: no agreed single host for ${o.longestHostless} ms: ${o.detail}`);
      worstLossy = Math.max(worstLossy, o.longestHostless);
    } else if (o.settledAfter === undefined) failed.push(`${name}: no agreed single host 8 s after healing: ${o.detail}`);
    else worst = Math.max(worst, o.settledAfter);
  }
  t.same(failed, [], `${all.length} cases: one host everyone agrees on, never two instances`);
  t.comment(`slowest to settle after healing: ${worst} ms; with packet loss, longest without an agreed host: ${worstLossy} ms`);
});
