/**
 * The SWIM simulation sweep: N nodes in one process on the in-memory network and one manual
 * scheduler (virtual time, a fixed seed), for several N. Per N it measures, in virtual time:
 * - how long all N take to converge after joining through one seed;
 * - packets each member sends per probe period in a quiet steady state (SWIM: constant in N);
 * - after a kill of one node, time until every live node sees it dead (detection) and from the
 *   first live node declaring it dead to the last (dissemination);
 * - then, with packet loss switched on, over many probe periods: false positives (a live node
 *   declared dead by anyone), suspicions raised, and packets per member per probe period.
 * "Packets" are the in-memory network's per-sender count: one UDP datagram each, which may carry
 * several SWIM messages (a ping plus piggybacked gossip). The wall-clock time of each run is
 * recorded too, so the cost of simulating large N is visible.
 */
import { performance } from 'node:perf_hooks';
import { presets } from '../../src/cluster/config.js';
import { Sim } from '../../test/sim/harness.js';
import { round } from './stats.js';

export interface SimulationRun {
  preset: keyof typeof presets;
  nodes: number;
  seed: number;
  /** Virtual ms from the joins until every node sees every node alive (undefined: never). */
  convergeMs: number | undefined;
  /** Packets per member per probe period, no loss, after gossip about the joins drained. */
  quietMessagesPerMemberPerPeriod: number;
  /** Virtual ms after convergence until the rate was steady (the join gossip drained). */
  quietAfterMs: number;
  /** Packets per member per period in each window of 10 periods after convergence. */
  quietWindowRates: number[];
  /** Virtual ms from the kill until every live node sees the victim dead. */
  detectionMs: number | undefined;
  /** Virtual ms from the first live node declaring the victim dead to the last. */
  disseminationMs: number | undefined;
  lossRate: number;
  probePeriods: number;
  /** 'failed' events about members that were never killed, during the whole run. */
  falsePositives: number;
  /** Distinct suspicions (member, incarnation) of live members raised during the loss phase. */
  suspicionsUnderLoss: number;
  /** 'suspected' events about live members during the loss phase (one per observer). */
  suspectedEventsUnderLoss: number;
  /** Packets per member per probe period during the loss phase. */
  messagesPerMemberPerPeriod: number;
  /** Whether, loss switched off again, every live node saw every live node alive within 60 periods. */
  convergedAtEnd: boolean;
  /** Virtual ms that took. */
  reconvergeMs: number | undefined;
  wallMs: number;
}

export interface SimulationPlan {
  preset: keyof typeof presets;
  nodes: number;
  probePeriods: number;
}

const sumSent = (sim: Sim) => [...sim.network.sent.values()].reduce((a, b) => a + b, 0);

/** One N: converge, quiet steady state, kill and detect, then the loss phase. */
export async function simulate(plan: SimulationPlan, lossRate: number, seed: number, progress: (line: string) => void): Promise<SimulationRun> {
  const wallStart = performance.now();
  const config = presets[plan.preset];
  const period = config.probeIntervalMs;
  const n = plan.nodes;
  const sim = new Sim({ nodes: n, seed, config, lossRate: 0 });
  // Checking convergence costs O(N²): check less often in virtual time for large N.
  const step = Math.max(50, Math.min(1000, n)) * (period / 1000);

  const t0 = sim.scheduler.monotonic();
  await sim.startAll();
  const converged = await sim.until(() => sim.converged(), 600 * period, step);
  const convergeMs = converged === undefined ? undefined : sim.scheduler.monotonic() - t0;
  progress(`  sim ${plan.preset} N=${n}: converged in ${convergeMs ?? 'NEVER'} virtual ms (${Math.round(performance.now() - wallStart)} ms wall)`);

  // Quiet steady state: gossip about the joins is retransmitted a bounded number of times
  // (more at larger N), and while any is queued each member also gossips on its own, up to
  // `gossipNodes` packets per gossip interval. Count in windows of 10 periods until the rate
  // is steady (within 2 % twice) and below that gossip ceiling, for at most 40 windows.
  const window = 10;
  const gossipCeiling = 2 + config.gossipNodes * (period / config.gossipIntervalMs);
  const rates: number[] = [];
  let before = sumSent(sim);
  const quietStart = sim.scheduler.monotonic();
  for (let w = 0; w < 40; w++) {
    await sim.run(window * period);
    rates.push((sumSent(sim) - before) / n / window);
    before = sumSent(sim);
    const [a, b, c] = rates.slice(-3);
    if (c !== undefined && Math.abs(b! - a!) <= 0.02 * a! && Math.abs(c - b!) <= 0.02 * b! && c < 0.9 * gossipCeiling) break;
  }
  const quiet = rates.at(-1)!;
  const quietAfterMs = sim.scheduler.monotonic() - quietStart;
  progress(`  sim ${plan.preset} N=${n}: quiet: ${round(quiet, 2)} packets/member/period (settled ${quietAfterMs} virtual ms after convergence)`);

  // Kill one node (not the seed), detect.
  const victimIndex = Math.max(1, Math.floor(n / 2));
  const victim = sim.nodes[victimIndex]!;
  const killedAt = sim.scheduler.monotonic();
  sim.kill(victimIndex);
  const allSee = () => sim.live().every((node) => node.member(victim.id)?.status === 'dead');
  await sim.until(allSee, 300 * period, Math.max(10, period / 20));
  const failed = sim.events.filter((e) => e.event.type === 'failed' && e.event.member.id === victim.id && e.at >= killedAt).map((e) => e.at);
  const detected = allSee() && failed.length > 0;
  const detectionMs = detected ? round(Math.max(...failed) - killedAt) : undefined;
  const disseminationMs = detected ? round(Math.max(...failed) - Math.min(...failed)) : undefined;
  progress(`  sim ${plan.preset} N=${n}: kill → all ${n - 1} see it dead in ${detectionMs ?? 'NEVER'} virtual ms (first→last ${disseminationMs ?? '–'} ms)`);

  // Loss phase: let the news of the death drain first, then count over many periods.
  await sim.run(20 * period);
  sim.network.lossRate = lossRate;
  const lossStart = sim.scheduler.monotonic();
  before = sumSent(sim);
  for (let done = 0; done < plan.probePeriods; done += 10) {
    await sim.run(Math.min(10, plan.probePeriods - done) * period);
    if (n >= 500) progress(`  sim ${plan.preset} N=${n}: loss phase ${Math.min(done + 10, plan.probePeriods)}/${plan.probePeriods} periods (${Math.round(performance.now() - wallStart)} ms wall)`);
  }
  const lossSent = sumSent(sim) - before;
  const live = sim.live().length;
  const suspectedEvents = sim.events.filter((e) => e.at >= lossStart && e.event.type === 'suspected' && e.event.member.id !== victim.id);
  const suspicionsUnderLoss = new Set(suspectedEvents.map((e) => `${e.event.member.id}/${e.event.member.incarnation}`)).size;
  sim.network.lossRate = 0;
  const lossEnd = sim.scheduler.monotonic();
  const convergedAtEnd = (await sim.until(() => sim.converged(), 60 * period, step)) !== undefined;
  const reconvergeMs = convergedAtEnd ? sim.scheduler.monotonic() - lossEnd : undefined;
  const falsePositives = sim.falsePositives().length;
  const run: SimulationRun = {
    preset: plan.preset,
    nodes: n,
    seed,
    convergeMs,
    quietMessagesPerMemberPerPeriod: round(quiet, 2),
    quietAfterMs,
    quietWindowRates: rates.map((r) => round(r, 2)),
    detectionMs,
    disseminationMs,
    lossRate,
    probePeriods: plan.probePeriods,
    falsePositives,
    suspicionsUnderLoss,
    suspectedEventsUnderLoss: suspectedEvents.length,
    messagesPerMemberPerPeriod: round(lossSent / live / plan.probePeriods, 2),
    convergedAtEnd,
    reconvergeMs,
    wallMs: Math.round(performance.now() - wallStart),
  };
  progress(
    `  sim ${plan.preset} N=${n}: ${plan.probePeriods} periods at ${lossRate * 100}% loss: ${falsePositives} false positives, ${suspicionsUnderLoss} suspicions, ` +
      `${run.messagesPerMemberPerPeriod} packets/member/period (${run.wallMs} ms wall)`,
  );
  for (const node of sim.nodes) node.stop();
  return run;
}

/** The sweep: several N with the `lan` preset (the quick mode stops at 200 nodes). */
export function simulationPlans(quick: boolean): SimulationPlan[] {
  const lan = (nodes: number, probePeriods: number): SimulationPlan => ({ preset: 'lan', nodes, probePeriods });
  return quick
    ? [lan(10, 300), lan(50, 200), lan(200, 100)]
    : [lan(10, 1000), lan(50, 1000), lan(200, 300), lan(1000, 50), { preset: 'local', nodes: 20, probePeriods: 1000 }];
}

export async function benchSimulation(opts: { quick: boolean; progress: (line: string) => void; lossRate?: number; seed?: number; plans?: SimulationPlan[] }): Promise<SimulationRun[]> {
  const lossRate = opts.lossRate ?? 0.1;
  const seed = opts.seed ?? 20261123;
  const runs: SimulationRun[] = [];
  for (const plan of opts.plans ?? simulationPlans(opts.quick)) runs.push(await simulate(plan, lossRate, seed + plan.nodes, opts.progress));
  return runs;
}
