/**
 * Shared pieces of the sharding benchmark (`npm run bench:sharding`): the counter entity type
 * every scenario uses, a closed-loop load generator that records every ask's latency, the
 * entity ids that land one per shard, and the orchestrator's side of the child-process line
 * protocol (spawn with `process.execPath --import tsx`, wait for a line, send a command on
 * stdin, kill every child on exit, error or SIGINT).
 *
 * Child protocol: a child prints machine-readable lines on stdout (`ready …`, `result <json>`,
 * `count …`), progress on stderr, reads one command per line on stdin, and exits when its
 * stdin closes, so it never outlives the orchestrator.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { inMemory } from '../../src/sharding/behaviors/index.js';
import { shardOf } from '../../src/sharding/index.js';
import type { EntityBehavior } from '../../src/sharding/index.js';

/** The command every benchmark ask carries: add `n` to the counter. */
export interface AddCommand {
  n: number;
}

/** An in-memory counter: replies with its new value. */
export const counter: EntityBehavior<AddCommand, number> = inMemory<AddCommand, number, number>({
  initial: 0,
  receive: (state, command) => {
    const next = state + command.n;
    return { state: next, reply: next };
  },
});

/** Wall time comparable across processes on one machine, ms. */
export const wallNow = (): number => performance.timeOrigin + performance.now();

/** `count` entity ids `e0`, `e1`, …. */
export const entityIds = (count: number): string[] => Array.from({ length: count }, (_, i) => `e${i}`);

/** One entity id per shard, 0 … numberOfShards-1 (the first `s<k>` whose shard is each one). */
export function idsOnePerShard(numberOfShards: number): string[] {
  const byShard = new Array<string | undefined>(numberOfShards);
  let found = 0;
  for (let k = 0; found < numberOfShards; k++) {
    const id = `s${k}`;
    const shard = Number(shardOf(id, numberOfShards));
    if (byShard[shard] === undefined) {
      byShard[shard] = id;
      found++;
    }
  }
  return byShard as string[];
}

export interface LoadResult {
  asks: number;
  errors: number;
  seconds: number;
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** First error message seen, if any. */
  firstError?: string;
}

/**
 * A closed loop: `concurrency` workers, each sending the next call as soon as its previous one
 * answered, for `seconds`, round-robin over `ids`. Every call's latency is recorded; p50/p99 by
 * nearest rank over all of them.
 */
export async function closedLoop(call: (id: string) => Promise<unknown>, ids: readonly string[], concurrency: number, seconds: number): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 20);
  let asks = 0;
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const id = ids[next++ % ids.length]!;
      const t0 = performance.now();
      try {
        await call(id);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        continue;
      }
      if (asks === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[asks++] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  const sorted = latencies.subarray(0, asks).sort();
  const rank = (p: number) => (asks === 0 ? NaN : sorted[Math.min(asks, Math.max(1, Math.ceil(p * asks))) - 1]!);
  return { asks, errors, seconds: elapsed, perSec: asks / elapsed, p50Ms: rank(0.5), p99Ms: rank(0.99), maxMs: rank(1), ...(firstError ? { firstError } : {}) };
}

/** Prints one `result <json>` line (the child's answer to the orchestrator). */
export function printResult(value: unknown): void {
  process.stdout.write(`result ${JSON.stringify(value)}\n`);
}

/** Reads commands from stdin, one per line; exits the process when stdin closes. */
export function onCommands(handler: (line: string) => void | Promise<void>): void {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    Promise.resolve(handler(line.trim())).catch((err: unknown) => {
      process.stderr.write(`command ${line} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
  });
  rl.on('close', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
}

// ---- orchestrator side ----

const children = new Set<ChildProcess>();
let cleanupInstalled = false;

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${err.stack ?? String(err)}\n`);
    killAll();
    process.exit(1);
  });
}

/** A child process speaking the line protocol. */
export class Child {
  readonly proc: ChildProcess;
  private readonly lines: string[] = [];
  private readonly waiters: { match: (line: string) => boolean; resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  private readonly listeners: ((line: string) => void)[] = [];
  private exited = false;

  constructor(
    readonly name: string,
    file: string,
    args: readonly string[],
    nodeArgs: readonly string[] = [],
  ) {
    installCleanup();
    this.proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', file, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.add(this.proc);
    const rl = createInterface({ input: this.proc.stdout! });
    rl.on('line', (line) => {
      for (const l of this.listeners) l(line);
      const i = this.waiters.findIndex((w) => w.match(line));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(line);
      else this.lines.push(line);
    });
    this.proc.stdin!.on('error', () => undefined);
    this.proc.on('exit', (code, signal) => {
      this.exited = true;
      children.delete(this.proc);
      for (const w of this.waiters.splice(0)) w.reject(new Error(`${name} exited (code ${code}, signal ${signal}) while the benchmark waited for it`));
    });
  }

  /** Every stdout line from now on. */
  onLine(listener: (line: string) => void): void {
    this.listeners.push(listener);
  }

  /** The first line (buffered or future) starting with `prefix`, without the prefix. */
  async next(prefix: string, timeoutMs = 120_000): Promise<string> {
    const match = (line: string) => line.startsWith(`${prefix} `) || line === prefix;
    const i = this.lines.findIndex(match);
    if (i >= 0) return this.lines.splice(i, 1)[0]!.slice(prefix.length + 1);
    if (this.exited) throw new Error(`${this.name} has exited`);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no "${prefix}" line within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line.slice(prefix.length + 1));
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
    });
  }

  /** Sends a command and returns the JSON of its `result` line. */
  async request<T>(command: string, timeoutMs = 300_000): Promise<T> {
    this.send(command);
    return JSON.parse(await this.next('result', timeoutMs)) as T;
  }

  send(command: string): void {
    this.proc.stdin!.write(`${command}\n`);
  }

  /** Closes stdin (the child exits by itself) and kills it if it has not within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.stdin!.end();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}
