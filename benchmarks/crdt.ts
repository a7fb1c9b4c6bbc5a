// `npm run bench:crdt [-- --quick]`: the CRDT replicator measured two ways, in one run.
// (a) bytes on the wire per update, delta propagation vs shipping the full state to every
//     other replica: a 1,000-element ORSet and a GCounter with 100 node entries, on clusters
//     of 3, 5 and 15 members (the in-memory network in virtual time: bytes are bytes; every
//     replicator message counts, acknowledgements and digest gossip included). Each update is
//     a write at ALL consistency, so it has reached every replica before the next one.
// (b) a joining node receiving 100,000 entries: a seeded member in a child process, the
//     joining member here, over real UDP/TCP on loopback; time from starting the joining
//     member (cluster join included) until its replicator holds every entry.
// Progress goes to stderr, tables to stdout; writes benchmarks/results/crdt.json.
// `--quick`: 40 updates per configuration and one join trial (well under 2 minutes); the
// full run: 200 updates and 3 join trials (the median reported).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Cluster, InMemoryNetwork } from '../src/cluster/index.js';
import { ManualScheduler, SeededRandom } from '../src/core/index.js';
import { GCounter, LWWRegister, ORSet, Replicator } from '../src/crdt/index.js';
import type { AnyCrdt } from '../src/crdt/index.js';
import { cell, markdownTable, median, round } from './cluster/stats.js';

const JOIN_ENTRIES = 100_000;

// ---- child: the seeded member of the join benchmark -------------------------------------
if (process.argv.includes('--seeded-member')) {
  const cluster = await Cluster.start({ preset: 'local' });
  const replicator = await Replicator.start({ cluster, syncOnStart: false });
  const id = replicator.selfId;
  for (let i = 0; i < JOIN_ENTRIES; i++) {
    const key = `entry-${i}`;
    if (i % 2 === 0) await replicator.update(key, GCounter.empty, (c) => c.increment(id, 1 + (i % 7)));
    else await replicator.update(key, LWWRegister.empty, (r) => r.set(id, `value of ${key}`, Date.now()));
  }
  process.stdout.write(`ready ${cluster.address}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
} else {
  await main();
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  const plan = quick ? { updates: 40, joinTrials: 1 } : { updates: 200, joinTrials: 3 };
  const TARGETS = { deltaToFullRatio: 0.1, join100kEntriesMs: 5000 };
  const machine = {
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    date: new Date().toISOString().slice(0, 10),
  };
  const load = { start: loadavg().map((x) => round(x, 2)), end: [] as number[] };

  // (a) delta vs full state
  type Shape = 'orset1000' | 'gcounter100';
  interface WireResult {
    shape: Shape;
    nodes: number;
    updates: number;
    bytesPerUpdate: number;
    deltaEntryBytesPerUpdate: number;
    fullStateBytes: number;
    fullStateBytesPerUpdate: number;
    ratio: number;
  }
  const wire: WireResult[] = [];
  for (const shape of ['orset1000', 'gcounter100'] as const) {
    for (const nodes of [3, 5, 15]) {
      progress(`[${elapsed()}] wire: ${shape} on ${nodes} members, ${plan.updates} updates`);
      wire.push(await measureWire(shape, nodes, plan.updates, 20_260 + nodes));
    }
  }
  const deltaToFullRatio: Record<string, Record<string, number>> = {};
  for (const w of wire) (deltaToFullRatio[w.shape] ??= {})[String(w.nodes)] = round(w.ratio, 5);
  const worstDeltaToFullRatio = Math.max(...wire.map((w) => round(w.ratio, 5)));

  // (b) join
  const joins: { totalMs: number; clusterJoinMs: number; entries: number }[] = [];
  for (let trial = 0; trial < plan.joinTrials; trial++) {
    progress(`[${elapsed()}] join: seeding ${JOIN_ENTRIES.toLocaleString('en-US')} entries in a child process (trial ${trial + 1}/${plan.joinTrials})`);
    joins.push(await measureJoin(progress, elapsed));
  }
  const join100kEntriesMs = Math.round(median(joins.map((j) => j.totalMs))!);
  load.end = loadavg().map((x) => round(x, 2));

  const report = {
    deltaToFullRatio,
    worstDeltaToFullRatio,
    join100kEntriesMs,
    machine,
    mode: quick ? 'quick' : 'full',
    timestamp: new Date().toISOString(),
    loadAverage: load,
    targets: {
      deltaToFullRatio: { max: TARGETS.deltaToFullRatio, met: worstDeltaToFullRatio <= TARGETS.deltaToFullRatio },
      join100kEntriesMs: { max: TARGETS.join100kEntriesMs, met: join100kEntriesMs < TARGETS.join100kEntriesMs },
    },
    akkaAnchor: 'Akka Distributed Data: replicating 100,000 entries to a joining node takes "tens of seconds"; at most 100,000 top-level entries recommended',
    wire: wire.map((w) => ({ ...w, ratio: round(w.ratio, 5) })),
    join: {
      entries: JOIN_ENTRIES,
      transport: 'two processes, UDP/TCP on 127.0.0.1 (the seeded member in a child process)',
      composition: 'half GCounters, half LWWRegisters with ~20-byte values',
      trials: joins,
    },
  };
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'crdt.json');
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);

  const mark = (ok: boolean) => (ok ? '' : ' ✗');
  const rows = wire.map((w) => [
    w.shape === 'orset1000' ? 'ORSet, 1,000 elements' : 'GCounter, 100 node entries',
    String(w.nodes),
    cell(w.fullStateBytes),
    cell(w.fullStateBytesPerUpdate),
    cell(w.deltaEntryBytesPerUpdate),
    cell(w.bytesPerUpdate),
    `${cell(w.ratio, 4)}${mark(w.ratio <= TARGETS.deltaToFullRatio)}`,
  ]);
  process.stdout.write(
    [
      '',
      `Bytes on the wire per update (${plan.updates} updates at ALL consistency; full state = its encoding × (members − 1))`,
      '',
      markdownTable(['data', 'members', 'full state B', 'full state to all B/update', 'delta entries B/update', 'all replicator bytes/update', 'ratio (target ≤ 0.1)'], rows),
      '',
      `worstDeltaToFullRatio: ${cell(worstDeltaToFullRatio, 4)}${mark(report.targets.deltaToFullRatio.met)}`,
      '',
      `A member joins and receives ${JOIN_ENTRIES.toLocaleString('en-US')} entries (two processes, UDP/TCP on loopback)`,
      '',
      markdownTable(['trial', 'cluster join ms', 'all entries ms (from start)'], joins.map((j, i) => [String(i + 1), cell(j.clusterJoinMs), cell(j.totalMs)])),
      '',
      `join100kEntriesMs (median): ${cell(join100kEntriesMs)}${mark(report.targets.join100kEntriesMs.met)} (target < ${cell(TARGETS.join100kEntriesMs)}; Akka: "tens of seconds")`,
      `machine: ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.cpuModel}, node ${machine.node}; load ${load.start[0]} → ${load.end[0]}; mode ${report.mode}; ${elapsed()}`,
      `wrote ${out}`,
      '',
    ].join('\n'),
  );
  process.exit(0);
}

/** Members on the in-memory network in virtual time, each with a replicator; ids look like real ones. */
async function measureWire(shape: 'orset1000' | 'gcounter100', nodes: number, updates: number, seed: number) {
  const scheduler = new ManualScheduler();
  const random = new SeededRandom(seed);
  const network = new InMemoryNetwork({ scheduler, random: random.fork(), latencyMs: 1 });
  const clock = { now: () => 1_700_000_000_000 + scheduler.monotonic(), monotonic: () => scheduler.monotonic() };
  const run = async (ms: number) => {
    for (let left = ms; left > 0; left -= 5) {
      scheduler.advance(Math.min(5, left));
      await new Promise((r) => setImmediate(r));
    }
  };
  const settle = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    const tracked = p.finally(() => (done = true));
    tracked.catch(() => undefined);
    for (let i = 0; i < 20_000 && !done; i++) await run(5);
    return tracked;
  };
  const members: { cluster: Cluster; replicator: Replicator }[] = [];
  const address = (i: number) => `10.0.0.${i + 1}:7946`;
  for (let i = 0; i < nodes; i++) {
    const a = address(i);
    const s = network.scheduler(a);
    const cluster = await Cluster.start({ id: `${a}#${random.int(2 ** 31).toString(36)}`, seeds: [address(0)], preset: 'local', transport: network.transport(a), scheduler: s, clock, random: random.fork() });
    const replicator = await Replicator.start({ cluster, scheduler: s, clock, random: random.fork() });
    members.push({ cluster, replicator });
  }
  for (let i = 0; i < 6000 && !members.every((m) => m.cluster.upMembers().length === nodes); i++) await run(10);
  if (!members.every((m) => m.cluster.upMembers().length === nodes)) throw new Error(`${nodes} members did not come up`);
  const key = shape;
  const first = members[0]!.replicator;
  if (shape === 'orset1000') {
    await settle(first.update(key, ORSet.empty, (s) => {
      let out = s;
      for (let e = 0; e < 1000; e++) out = out.add(first.selfId, `element-${String(e).padStart(5, '0')}`);
      return out;
    }, { consistency: 'all', timeoutMs: 60_000 }));
  } else {
    // 100 entries of nodes that wrote before (ids like a member's), then the members' own increments.
    let g = GCounter.empty;
    for (let n = 0; n < 100; n++) g = g.increment(`10.1.${n >> 8}.${n & 255}:7946#${(1e6 + n * 7919).toString(36)}`, 1 + n);
    const initial = g.resetDelta();
    await settle(first.update(key, GCounter.empty, () => initial, { consistency: 'all', timeoutMs: 60_000 }));
  }
  await run(500);
  const before = members.map((m) => ({ bytes: m.replicator.stats.bytesSent, delta: m.replicator.stats.deltaBytes + m.replicator.stats.fullStateBytes }));
  let fullBytes = 0;
  let next = 1000;
  let oldest = 0;
  for (let u = 0; u < updates; u++) {
    const m = members[random.int(nodes)]!.replicator;
    const id = m.selfId;
    let state: AnyCrdt;
    if (shape === 'orset1000') {
      // Updates alternate: a new element in, the oldest one out (the set stays at about 1,000).
      const element = u % 2 === 0 ? `element-${String(next++).padStart(5, '0')}` : `element-${String(oldest++).padStart(5, '0')}`;
      state = await settle(m.update(key, ORSet.empty, (s) => (u % 2 === 0 ? s.add(id, element) : s.remove(element)), { consistency: 'all', timeoutMs: 10_000 }));
    } else {
      state = await settle(m.update(key, GCounter.empty, (c) => c.increment(id, 1), { consistency: 'all', timeoutMs: 10_000 }));
    }
    fullBytes += JSON.stringify({ d: state.toJSON() }).length + 1;
    await run(20);
  }
  const sent = members.reduce((sum, m, i) => sum + m.replicator.stats.bytesSent - before[i]!.bytes, 0);
  const deltaEntryBytes = members.reduce((sum, m, i) => sum + m.replicator.stats.deltaBytes + m.replicator.stats.fullStateBytes - before[i]!.delta, 0);
  const fullStateBytes = Math.round(fullBytes / updates);
  const fullPerUpdate = fullStateBytes * (nodes - 1);
  for (const m of members) {
    await m.replicator.close();
    await m.cluster.shutdown();
  }
  return {
    shape,
    nodes,
    updates,
    bytesPerUpdate: Math.round(sent / updates),
    deltaEntryBytesPerUpdate: Math.round(deltaEntryBytes / updates),
    fullStateBytes,
    fullStateBytesPerUpdate: fullPerUpdate,
    ratio: sent / updates / fullPerUpdate,
  };
}

/** The seeded member in a child process; this process joins it and waits for every entry. */
async function measureJoin(progress: (line: string) => void, elapsed: () => string) {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--seeded-member'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const seedAddress = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.startsWith('ready ')) resolve(line.slice(6).trim());
    });
    child.on('exit', (code) => reject(new Error(`the seeded member exited (${code})`)));
  });
  progress(`[${elapsed()}] join: seeded member ready at ${seedAddress}; joining`);
  const t0 = performance.now();
  const cluster = await Cluster.start({ preset: 'local', seeds: [seedAddress] });
  const replicator = await Replicator.start({ cluster });
  await cluster.joined;
  const clusterJoinMs = performance.now() - t0;
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`only ${replicator.size} of ${JOIN_ENTRIES} entries after 120 s`)), 120_000);
    const poll = setInterval(() => {
      if (replicator.size >= JOIN_ENTRIES) {
        clearInterval(poll);
        clearTimeout(deadline);
        resolve();
      }
    }, 2);
  });
  const totalMs = performance.now() - t0;
  const sample = replicator.getLocal<GCounter>('entry-42');
  if (sample?.value !== 1 + (42 % 7)) throw new Error(`entry-42 arrived wrong: ${JSON.stringify(sample?.toJSON())}`);
  await replicator.close();
  await cluster.shutdown();
  child.stdin!.end();
  await new Promise((r) => child.once('exit', r));
  return { totalMs: Math.round(totalMs), clusterJoinMs: Math.round(clusterJoinMs), entries: JOIN_ENTRIES };
}
