/**
 * Failure detection with real processes on loopback: N cluster members, each its own Node
 * process (./node.ts, bound to 127.0.0.1), formed in waves (tsx start-up costs CPU on a small
 * machine) until every member sees every other alive. Then, per trial: `kill -9` one member
 * and take the wall time (performance.timeOrigin + performance.now(), which compares across
 * processes on one machine) at which each survivor reports it `failed`:
 * - detection     = last survivor's `failed` − the kill: "every live member sees it dead";
 * - dissemination = last survivor's `failed` − first survivor's `failed`;
 * - first suspicion = first survivor's `suspected` − the kill.
 * A replacement is started after each trial so the cluster stays at N, and the next trial
 * waits for full convergence. Every child is killed on return, on error and on SIGINT/SIGTERM;
 * children also exit on their own when their stdin (a pipe from here) closes.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median, percentile, round } from './stats.js';

const script = join(import.meta.dirname, 'node.ts');
const wallNow = () => performance.timeOrigin + performance.now();

export type PresetName = 'local' | 'lan';

export interface DetectionTrial {
  victim: string;
  /** ms from the kill until the last survivor reported `failed` (undefined: timed out). */
  detectionMs: number | undefined;
  disseminationMs: number | undefined;
  firstSuspicionMs: number | undefined;
  /** Survivors that had reported `failed` when the trial ended. */
  sawFailed: number;
  survivors: number;
}

export interface DetectionResult {
  preset: PresetName;
  processes: number;
  trials: DetectionTrial[];
  /** Median and p95 over the trials that completed (nearest rank). */
  medianMs: number | undefined;
  p95Ms: number | undefined;
  disseminationMedianMs: number | undefined;
  disseminationP95Ms: number | undefined;
  firstSuspicionMedianMs: number | undefined;
  timedOut: number;
  /** `failed` events (one per observer) about members that were alive then, during the whole run. */
  falsePositives: number;
  /** Distinct members some process falsely declared failed. */
  falselyFailedMembers: number;
  /** `suspected` events (one per observer) about members that were alive then. */
  suspicionsOfLiveMembers: number;
  /** The machine's 1/5/15-minute load averages when the section started and ended (2 cores: above 2 the CPU is contended). */
  loadAverage: { start: number[]; end: number[] };
  /** Wall ms to start N processes and converge the first time. */
  formMs: number;
}

interface Proc {
  child: ChildProcess;
  address: string;
  id: string;
  /** Last liveness event (joined, recovered, suspected, failed, left) per member id, as this process reported it. */
  view: Map<string, string>;
  events: { type: string; id: string; at: number }[];
  exited: boolean;
}

/** A set of child processes that is always cleaned up. */
class Fleet {
  readonly procs: Proc[] = [];
  readonly children = new Set<ChildProcess>();
  /** Wall time of each kill, by member id. */
  readonly killed = new Map<string, number>();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.killAll();
    process.kill(process.pid, signal);
  };
  private readonly onExit = () => this.killAll();

  constructor(private readonly preset: PresetName) {
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    process.once('exit', this.onExit);
  }

  start(seeds: string[], timeoutMs = 60_000): Promise<Proc> {
    const child = spawn(process.execPath, ['--import', 'tsx', script, this.preset, ...seeds], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.children.add(child);
    return new Promise((resolve, reject) => {
      let buffered = '';
      let me: Proc | undefined;
      const early: string[] = [];
      const timer = setTimeout(() => {
        if (!me) {
          child.kill('SIGKILL');
          reject(new Error(`a ${this.preset} node did not become ready in ${timeoutMs} ms`));
        }
      }, timeoutMs);
      child.once('exit', (code, signal) => {
        this.children.delete(child);
        if (me) me.exited = true;
        else {
          clearTimeout(timer);
          reject(new Error(`a node exited before it was ready (${code ?? signal})`));
        }
      });
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          const [kind, a, b, c] = line.split(' ');
          if (kind === 'ready' && a && b) {
            me = { child, address: a, id: b, view: new Map(), events: [], exited: false };
            clearTimeout(timer);
            this.procs.push(me);
            resolve(me);
          } else if (kind === 'event' && a && b && c) {
            const event = { type: a, id: b, at: Number(c) };
            if (me) {
              me.events.push(event);
              // Liveness only: other events (e.g. `updated` metadata) leave the view as it is.
              if (LIVENESS.has(a)) me.view.set(b, a);
            } else early.push(line);
          }
        }
      });
    });
  }

  live(): Proc[] {
    return this.procs.filter((p) => !this.killed.has(p.id) && !p.exited);
  }

  /** Every live member sees every other live member joined or recovered. */
  converged(): boolean {
    const live = this.live();
    return live.every((p) => live.every((q) => q === p || p.view.get(q.id) === 'joined' || p.view.get(q.id) === 'recovered'));
  }

  kill(p: Proc): number {
    const at = wallNow();
    this.killed.set(p.id, at);
    p.child.kill('SIGKILL');
    return at;
  }

  /** Events of `type` about members that were alive at the time (not killed yet): false alarms. */
  aboutLive(type: string): { type: string; id: string; at: number }[] {
    return this.procs.flatMap((p) => p.events.filter((e) => e.type === type && e.at < (this.killed.get(e.id) ?? Number.POSITIVE_INFINITY)));
  }

  killAll(): void {
    for (const c of this.children) c.kill('SIGKILL');
  }

  async close(): Promise<void> {
    const waits = [...this.children].map((c) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()))));
    this.killAll();
    await Promise.all(waits);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    process.off('exit', this.onExit);
  }
}

const LIVENESS = new Set(['joined', 'recovered', 'suspected', 'failed', 'left']);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function eventually(done: () => boolean, ms: number, pollMs = 10): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (done()) return true;
    await sleep(pollMs);
  }
  return done();
}

export interface DetectionOptions {
  preset: PresetName;
  processes: number;
  trials: number;
  progress: (line: string) => void;
  /** Processes started at once while forming (default 5). */
  wave?: number;
}

export async function benchDetection(o: DetectionOptions): Promise<DetectionResult> {
  const fleet = new Fleet(o.preset);
  const convergeTimeout = o.preset === 'lan' ? 90_000 : 60_000;
  const detectTimeout = o.preset === 'lan' ? 90_000 : 20_000;
  // After convergence, let gossip about the joins drain before killing (a few probe periods).
  const settleMs = o.preset === 'lan' ? 3000 : 1000;
  const loadStart = loadavg().map((x) => round(x, 2));
  try {
    const formStart = Date.now();
    const first = await fleet.start([]);
    const wave = o.wave ?? 5;
    while (fleet.procs.length < o.processes) {
      const seeds = fleet.live().slice(0, 3).map((p) => p.address);
      const k = Math.min(wave, o.processes - fleet.procs.length);
      await Promise.all(Array.from({ length: k }, () => fleet.start(seeds)));
      o.progress(`  ${o.preset}: ${fleet.procs.length}/${o.processes} processes ready`);
    }
    if (!(await eventually(() => fleet.converged(), convergeTimeout, 50))) throw new Error(`${o.processes} ${o.preset} processes did not converge in ${convergeTimeout} ms`);
    const formMs = Date.now() - formStart;
    o.progress(`  ${o.preset}: ${o.processes} processes converged, ${formMs} ms after the first started (seed ${first.address})`);

    const trials: DetectionTrial[] = [];
    for (let trial = 0; trial < o.trials; trial++) {
      await sleep(settleMs);
      const live = fleet.live();
      // Any member but the longest-lived one, which replacements use as a seed.
      const victim = live[1 + (trial % (live.length - 1))]!;
      const survivors = live.filter((p) => p !== victim);
      const killedAt = fleet.kill(victim);
      // Only events after the kill: the victim may have been suspected (or even declared dead
      // and then refuted) earlier, while alive.
      const after = (p: Proc, type: string) => p.events.filter((e) => e.id === victim.id && e.type === type && e.at >= killedAt).map((e) => e.at);
      const sawFailed = () => survivors.filter((p) => after(p, 'failed').length > 0).length;
      await eventually(() => sawFailed() === survivors.length, detectTimeout);
      const failedAt = survivors.map((p) => after(p, 'failed')[0]).filter((x): x is number => x !== undefined);
      const suspectedAt = survivors.flatMap((p) => after(p, 'suspected'));
      const complete = sawFailed() === survivors.length;
      const t: DetectionTrial = {
        victim: victim.id,
        detectionMs: complete ? round(Math.max(...failedAt) - killedAt) : undefined,
        disseminationMs: complete ? round(Math.max(...failedAt) - Math.min(...failedAt)) : undefined,
        firstSuspicionMs: suspectedAt.length > 0 ? round(Math.min(...suspectedAt) - killedAt) : undefined,
        sawFailed: sawFailed(),
        survivors: survivors.length,
      };
      trials.push(t);
      o.progress(
        `  ${o.preset} trial ${trial + 1}/${o.trials}: ` +
          (complete
            ? `all ${survivors.length} survivors saw the kill in ${t.detectionMs} ms (first suspicion ${t.firstSuspicionMs} ms, first→last failed ${t.disseminationMs} ms)`
            : `TIMED OUT after ${detectTimeout} ms: ${t.sawFailed}/${survivors.length} saw it failed`),
      );
      if (trial + 1 < o.trials) {
        await fleet.start(fleet.live().slice(0, 3).map((p) => p.address));
        if (!(await eventually(() => fleet.converged(), convergeTimeout, 50))) throw new Error(`the replacement did not converge in ${convergeTimeout} ms`);
      }
    }
    const done = trials.map((t) => t.detectionMs).filter((x): x is number => x !== undefined);
    const spread = trials.map((t) => t.disseminationMs).filter((x): x is number => x !== undefined);
    const suspicion = trials.map((t) => t.firstSuspicionMs).filter((x): x is number => x !== undefined);
    const falsePositives = fleet.aboutLive('failed');
    const suspectedLive = fleet.aboutLive('suspected');
    return {
      preset: o.preset,
      processes: o.processes,
      trials,
      medianMs: median(done),
      p95Ms: percentile(done, 95),
      disseminationMedianMs: median(spread),
      disseminationP95Ms: percentile(spread, 95),
      firstSuspicionMedianMs: median(suspicion),
      timedOut: trials.length - done.length,
      falsePositives: falsePositives.length,
      falselyFailedMembers: new Set(falsePositives.map((e) => e.id)).size,
      suspicionsOfLiveMembers: suspectedLive.length,
      formMs,
      loadAverage: { start: loadStart, end: loadavg().map((x) => round(x, 2)) },
    };
  } finally {
    await fleet.close();
  }
}
