// `npm run bench:cluster [-- --quick]`: the membership layer measured three ways, in one run.
// (a) detection: real processes on 127.0.0.1, kill -9 one, time until every survivor reports it
//     failed, with the fast `local` preset and the `lan` default (./cluster/detection.ts);
// (b) simulation: many nodes on the in-memory network in virtual time, detection and
//     dissemination vs N, false positives and packets per member per probe period under
//     packet loss (./cluster/simulation.ts);
// (c) messaging: reliable messaging between two processes beside a raw TCP baseline
//     (./cluster/messaging.ts, by another engineer; recorded as skipped if absent or failing).
// Progress goes to stderr, a table per section to stdout; writes benchmarks/results/cluster.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchDetection } from './cluster/detection.js';
import type { DetectionResult } from './cluster/detection.js';
import { benchSimulation } from './cluster/simulation.js';
import type { SimulationRun } from './cluster/simulation.js';
import type { MessagingBenchResult } from './cluster/messaging.js';
import { cell, markdownTable } from './cluster/stats.js';

const quick = process.argv.includes('--quick');
const progress = (line: string) => process.stderr.write(`${line}\n`);
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

/** Targets from the issue. */
const TARGETS = { fastMedianMs: 1000, lanMedianMs: 5000, simFalsePositives: 0 };

type Messaging = MessagingBenchResult | { skipped: string };
type BenchMessaging = (opts: { quick: boolean; progress: (line: string) => void }) => Promise<MessagingBenchResult>;

const machine = {
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  cpuModel: cpus()[0]?.model ?? 'unknown',
};

// (a) detection with real processes
const plan = quick
  ? { fast: { processes: 10, trials: 3 }, lan: { processes: 10, trials: 3 } }
  : { fast: { processes: 20, trials: 7 }, lan: { processes: 20, trials: 5 } };
const detection: Record<'fastPreset' | 'lanPreset', DetectionResult | { skipped: string }> = { fastPreset: { skipped: 'not run' }, lanPreset: { skipped: 'not run' } };
for (const [key, preset, p] of [['fastPreset', 'local', plan.fast], ['lanPreset', 'lan', plan.lan]] as const) {
  progress(`[${elapsed()}] detection, preset ${preset}: ${p.processes} processes, ${p.trials} kills`);
  try {
    detection[key] = await benchDetection({ preset, processes: p.processes, trials: p.trials, progress });
  } catch (err) {
    detection[key] = { skipped: `failed: ${err instanceof Error ? err.message : String(err)}` };
    progress(`  detection ${preset} FAILED: ${(detection[key] as { skipped: string }).skipped}`);
  }
}

// (b) simulation
progress(`[${elapsed()}] simulation sweep (in-memory network, virtual time)`);
const lossRate = 0.1;
const runs: SimulationRun[] = await benchSimulation({ quick, progress, lossRate });
const simulation = {
  lossRate,
  nodes: runs.map((r) => r.nodes),
  probePeriods: runs.map((r) => r.probePeriods),
  falsePositives: runs.reduce((n, r) => n + r.falsePositives, 0),
  messagesPerMemberPerPeriod: Object.fromEntries(runs.map((r) => [`${r.preset}/${r.nodes}`, r.messagesPerMemberPerPeriod])),
  runs,
};

// (c) messaging, by the other engineer's module when it is there
progress(`[${elapsed()}] messaging between two processes vs raw TCP`);
let messaging: Messaging;
try {
  const modulePath = './cluster/messaging.js';
  const mod = (await import(modulePath)) as { benchMessaging?: BenchMessaging };
  if (typeof mod.benchMessaging !== 'function') throw new Error('./cluster/messaging.js exports no benchMessaging');
  messaging = await mod.benchMessaging({ quick, progress });
} catch (err) {
  const reason = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  messaging = { skipped: `not measured: ${reason}` };
  progress(`  messaging SKIPPED: ${reason}`);
}

// Report
const measured = (d: DetectionResult | { skipped: string }): d is DetectionResult => !('skipped' in d);
const met = (d: DetectionResult | { skipped: string }, maxMs: number) => (measured(d) && d.medianMs !== undefined && d.timedOut === 0 ? d.medianMs < maxMs : false);
const targets = {
  fastPresetMedianUnder1s: { maxMs: TARGETS.fastMedianMs, met: met(detection.fastPreset, TARGETS.fastMedianMs) },
  lanPresetMedianUnder5s: { maxMs: TARGETS.lanMedianMs, met: met(detection.lanPreset, TARGETS.lanMedianMs) },
  simulationZeroFalsePositives: { met: simulation.falsePositives === TARGETS.simFalsePositives },
};
const report = { machine, timestamp: new Date().toISOString(), mode: quick ? 'quick' : 'full', targets, detection, simulation, messaging };
const out = join(import.meta.dirname, 'results', 'cluster.json');
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);

const mark = (ok: boolean) => (ok ? ' ✓' : ' ✗');
const detectionRows = (['fastPreset', 'lanPreset'] as const).map((key) => {
  const d = detection[key];
  const target = key === 'fastPreset' ? TARGETS.fastMedianMs : TARGETS.lanMedianMs;
  if (!measured(d)) return [key === 'fastPreset' ? 'local' : 'lan', '–', '–', '–', '–', '–', '–', '–', '–', '–', `skipped: ${d.skipped}`];
  return [
    d.preset,
    String(d.processes),
    `${d.trials.length - d.timedOut}/${d.trials.length}`,
    `${cell(d.medianMs)}${d.medianMs === undefined ? '' : mark(met(d, target))}`,
    cell(d.p95Ms),
    cell(d.firstSuspicionMedianMs),
    `${cell(d.disseminationMedianMs)} / ${cell(d.disseminationP95Ms)}`,
    `${d.falsePositives} (${d.falselyFailedMembers} members)`,
    String(d.suspicionsOfLiveMembers),
    `${d.loadAverage.start[0]} → ${d.loadAverage.end[0]}`,
    `< ${cell(target)} ms`,
  ];
});
const simRows = runs.map((r) => [
  r.preset,
  cell(r.nodes),
  cell(r.convergeMs),
  cell(r.detectionMs),
  cell(r.disseminationMs),
  cell(r.quietMessagesPerMemberPerPeriod, 2),
  `${r.lossRate * 100}%`,
  cell(r.probePeriods),
  `${r.falsePositives}${mark(r.falsePositives === 0)}`,
  cell(r.suspicionsUnderLoss),
  cell(r.messagesPerMemberPerPeriod, 2),
  cell(r.wallMs / 1000, 1),
]);
const messagingTable =
  'skipped' in messaging
    ? `messaging: SKIPPED (${messaging.skipped})`
    : markdownTable(
        ['messages', 'bytes', 'reliable msgs/s', 'raw TCP msgs/s (baseline in messaging.ts)', 'ratio', 'p50 ms', 'p99 ms'],
        [[cell(messaging.messages), cell(messaging.messageBytes), cell(messaging.perSec), cell(messaging.rawTcpPerSec), cell(messaging.ratio, 2), cell(messaging.p50Ms, 2), cell(messaging.p99Ms, 2)]],
      );
process.stdout.write(
  [
    '',
    'Failure detection, real processes on 127.0.0.1 (ms from kill -9 until every survivor reports the member failed)',
    '',
    markdownTable(['preset', 'processes', 'trials done', 'median ms', 'p95 ms', 'first suspicion ms (median)', 'first→last failed ms (median / p95)', 'false failed events', 'suspected events (live)', 'load avg 1 min', 'target'], detectionRows),
    '',
    'Simulation, in-memory network, virtual time (detection/dissemination without loss; then the loss phase)',
    '',
    markdownTable(
      ['preset', 'nodes', 'converge ms', 'detection ms', 'first→last ms', 'packets/member/period (quiet)', 'loss', 'periods', 'false positives', 'suspicions', 'packets/member/period (loss)', 'wall s'],
      simRows,
    ),
    '',
    'Reliable messaging between two processes vs a raw TCP baseline',
    '',
    messagingTable,
    '',
    `machine: ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.cpuModel}, node ${machine.node}; mode ${report.mode}; ${elapsed()}`,
    `wrote ${out}`,
    '',
  ].join('\n'),
);
