// `npm run bench:sharding [-- --quick]`: cluster sharding measured three ways, in one run.
// (a) local: asks to entities hosted in the same process (a one-node cluster), 256 in flight
//     over 1,000 in-memory counters, beside a plain async function over a Map
//     (./sharding/local.ts, in its own process);
// (b) remote: asks from a process that only routes to a process that hosts every entity,
//     beside raw length-prefixed TCP request/response with as many in flight
//     (./sharding/remote.ts, ./sharding/node.ts, ./sharding/raw-tcp.ts);
// (c) rebalance: 1,000 shards over two processes, a third joins; time until the allocation is
//     the consistent-hash ring's for three and every shard answers (./sharding/rebalance.ts).
// Progress goes to stderr, tables to stdout; writes benchmarks/results/sharding.json.
// `--quick`: one round of 3 s per measurement and one rebalance trial (well under 2 minutes);
// the full run: 3 rounds of 10 s and 3 rebalance trials, each figure the median.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cell, markdownTable, median, round } from './cluster/stats.js';
import { Child } from './sharding/common.js';
import type { LoadResult } from './sharding/common.js';
import { benchRemote } from './sharding/remote.js';
import { rebalanceTrial } from './sharding/rebalance.js';
import type { RebalanceTrial } from './sharding/rebalance.js';

const quick = process.argv.includes('--quick');
const progress = (line: string) => process.stderr.write(`${line}\n`);
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

/** Targets from the issue (2 cores): asks per second. */
const TARGETS = { localAsksPerSec: 100_000, remoteAsksPerSec: 20_000 };
/** Akka's anchor: ≈127k req/s local and < 15k req/s remote on 8 vCPU per node. */
const AKKA = { localPerCore: 127_000 / 8, remotePerCore: 15_000 / 8 };

const plan = quick ? { seconds: 3, rounds: 1, trials: 1 } : { seconds: 10, rounds: 3, trials: 3 };
const CONCURRENCY = 256;
const ENTITIES = 1000;
const SHARDS = 1000;
const REBALANCE_MS = 200;

const machine = {
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  date: new Date().toISOString().slice(0, 10),
};
const load = { start: loadavg().map((x) => round(x, 2)), end: [] as number[] };

/** The round with the median throughput (its own p50/p99 go with it). */
function medianRound(rounds: readonly LoadResult[]): LoadResult {
  const sorted = [...rounds].sort((a, b) => a.perSec - b.perSec);
  return sorted[(sorted.length - 1) >> 1]!;
}
const summary = (r: LoadResult) => ({ perSec: Math.round(r.perSec), p50Ms: round(r.p50Ms, 3), p99Ms: round(r.p99Ms, 3), maxMs: round(r.maxMs, 3), asks: r.asks, errors: r.errors });

// (a) local
progress(`[${elapsed()}] local: one-node cluster, ${CONCURRENCY} asks in flight over ${ENTITIES} entities, ${plan.rounds} × ${plan.seconds} s`);
const localChild = new Child('local', join(import.meta.dirname, 'sharding', 'local.ts'), [String(plan.seconds), String(CONCURRENCY), String(ENTITIES), String(plan.rounds)]);
const localRaw = JSON.parse(await localChild.next('result', (plan.rounds * plan.seconds * 2 + 60) * 1000)) as { sharded: LoadResult[]; baseline: LoadResult[]; hostedShards: number };
await localChild.stop();
const localS = medianRound(localRaw.sharded);
const localB = medianRound(localRaw.baseline);

// (b) remote
progress(`[${elapsed()}] remote: two processes, ${CONCURRENCY} asks in flight over ${ENTITIES} entities`);
const remote = await benchRemote({ seconds: plan.seconds, rounds: plan.rounds, concurrency: CONCURRENCY, entities: ENTITIES, progress });
const remoteS = medianRound(remote.sharded);
const remoteRaw = medianRound(remote.rawTcp);

// (c) rebalance
// A trial that fails (fresh processes each time) is recorded with its reason and tried again,
// at most twice per trial.
const trials: RebalanceTrial[] = [];
const failedTrials: string[] = [];
for (let i = 0; i < plan.trials && failedTrials.length <= 2 * plan.trials; ) {
  progress(`[${elapsed()}] rebalance trial ${i + 1}/${plan.trials}: ${SHARDS} shards, rebalance every ${REBALANCE_MS} ms`);
  try {
    const t = await rebalanceTrial({ numberOfShards: SHARDS, rebalanceIntervalMs: REBALANCE_MS, progress });
    progress(`  stable after ${t.stableMs.toFixed(0)} ms (verified ${t.verifiedMs.toFixed(0)} ms), ${t.rounds} rounds, ${t.expectedMoves} shards moved`);
    trials.push(t);
    i++;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    failedTrials.push(reason);
    progress(`  trial FAILED (recorded, trying again): ${reason}`);
  }
}
const rebalanceMs = median(trials.map((t) => t.stableMs));
load.end = loadavg().map((x) => round(x, 2));

// Report
const report = {
  localAsksPerSec: Math.round(localS.perSec),
  localP50Ms: round(localS.p50Ms, 3),
  localP99Ms: round(localS.p99Ms, 3),
  remoteAsksPerSec: Math.round(remoteS.perSec),
  remoteP50Ms: round(remoteS.p50Ms, 3),
  remoteP99Ms: round(remoteS.p99Ms, 3),
  rebalance1000ShardsMs: rebalanceMs === undefined ? null : Math.round(rebalanceMs),
  machine,
  mode: quick ? 'quick' : 'full',
  timestamp: new Date().toISOString(),
  loadAverage: load,
  targets: {
    localAsksPerSec: { min: TARGETS.localAsksPerSec, met: localS.perSec >= TARGETS.localAsksPerSec },
    remoteAsksPerSec: { min: TARGETS.remoteAsksPerSec, met: remoteS.perSec >= TARGETS.remoteAsksPerSec },
  },
  akkaAnchorPerCore: { local: Math.round(AKKA.localPerCore), remote: Math.round(AKKA.remotePerCore), localHere: Math.round(localS.perSec / machine.cores), remoteHere: Math.round(remoteS.perSec / machine.cores) },
  local: {
    concurrency: CONCURRENCY,
    entities: ENTITIES,
    shards: localRaw.hostedShards,
    secondsPerRound: plan.seconds,
    sharding: summary(localS),
    plainFunctionBaseline: summary(localB),
    ratioToPlainFunction: round(localS.perSec / localB.perSec, 4),
    rounds: { sharding: localRaw.sharded.map(summary), plainFunction: localRaw.baseline.map(summary) },
  },
  remote: {
    concurrency: CONCURRENCY,
    entities: ENTITIES,
    secondsPerRound: plan.seconds,
    sharding: summary(remoteS),
    rawTcpBaseline: { ...summary(remoteRaw), requestBytes: remote.rawRequestBytes, replyBytes: remote.rawReplyBytes },
    ratioToRawTcp: round(remoteS.perSec / remoteRaw.perSec, 3),
    rounds: { sharding: remote.sharded.map(summary), rawTcp: remote.rawTcp.map(summary) },
    hostMessaging: remote.hostMessaging,
  },
  rebalance: {
    processes: 3,
    numberOfShards: SHARDS,
    rebalanceIntervalMs: REBALANCE_MS,
    strategy: 'consistentHashing() default (at most max(20, 25 % of shards) in flight)',
    medianStableMs: rebalanceMs === undefined ? null : Math.round(rebalanceMs),
    medianVerifiedMs: trials.length === 0 ? null : Math.round(median(trials.map((t) => t.verifiedMs))!),
    failedTrials,
    medianRounds: median(trials.map((t) => t.rounds)),
    trials: trials.map((t) => ({ ...t, stableMs: Math.round(t.stableMs), verifiedMs: Math.round(t.verifiedMs) })),
  },
};
const out = join(import.meta.dirname, 'results', 'sharding.json');
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);

const mark = (ok: boolean) => (ok ? ' ✓' : ' ✗');
const rows = [
  [
    'local (same process)',
    `${cell(localS.perSec)}${mark(report.targets.localAsksPerSec.met)}`,
    cell(localS.p50Ms, 3),
    cell(localS.p99Ms, 3),
    `plain async fn + Map: ${cell(localB.perSec)} calls/s, p50 ${cell(localB.p50Ms, 3)}, p99 ${cell(localB.p99Ms, 3)}`,
    cell(report.local.ratioToPlainFunction, 3),
    `≥ ${cell(TARGETS.localAsksPerSec)}`,
  ],
  [
    'remote (A routes → B hosts)',
    `${cell(remoteS.perSec)}${mark(report.targets.remoteAsksPerSec.met)}`,
    cell(remoteS.p50Ms, 3),
    cell(remoteS.p99Ms, 3),
    `raw TCP req/resp: ${cell(remoteRaw.perSec)} req/s, p50 ${cell(remoteRaw.p50Ms, 3)}, p99 ${cell(remoteRaw.p99Ms, 3)}`,
    cell(report.remote.ratioToRawTcp, 3),
    `≥ ${cell(TARGETS.remoteAsksPerSec)}`,
  ],
];
const trialRows = trials.map((t, i) => [
  String(i + 1),
  `${t.before.join(' + ')}`,
  `${t.expected.join(' / ')}`,
  cell(t.expectedMoves),
  cell(t.stableMs),
  cell(t.verifiedMs),
  cell(t.rounds),
  `${t.roundTimesMs.length > 0 ? `${cell(t.roundTimesMs[0])} … ${cell(t.roundTimesMs.at(-1))}` : '–'}`,
  cell(t.sweepFailures),
]);
process.stdout.write(
  [
    '',
    `Asks, ${CONCURRENCY} in flight over ${ENTITIES} in-memory counters (median of ${plan.rounds} round(s) of ${plan.seconds} s)`,
    '',
    markdownTable(['path', 'asks/s', 'p50 ms', 'p99 ms', 'baseline in the same run', 'ratio', 'target'], rows),
    '',
    `Rebalance: ${SHARDS} shards over 2 processes, a 3rd joins (consistent hashing, ≤ max(20, 25 %) of shards in flight, every ${REBALANCE_MS} ms)`,
    '',
    markdownTable(['trial', 'before', 'after (ring)', 'shards moved', 'stable ms', 'verified ms', 'rounds', 'rounds at ms', 'failed asks'], trialRows),
    '',
    `rebalance1000ShardsMs (median): ${cell(rebalanceMs)}${failedTrials.length > 0 ? `; ${failedTrials.length} trial(s) failed and were run again: ${failedTrials.join(' | ')}` : ''}`,
    `Akka anchor per core: local ${cell(AKKA.localPerCore)}, remote ${cell(AKKA.remotePerCore)}; here per core: local ${cell(localS.perSec / machine.cores)}, remote ${cell(remoteS.perSec / machine.cores)}`,
    `machine: ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.cpuModel}, node ${machine.node}; load ${load.start[0]} → ${load.end[0]}; mode ${report.mode}; ${elapsed()}`,
    `wrote ${out}`,
    '',
  ].join('\n'),
);
process.exit(0);
