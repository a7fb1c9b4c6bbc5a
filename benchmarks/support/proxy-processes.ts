/**
 * The proxy benchmark's processes: spawning each server as its own process (`node …`, no shell,
 * so the child's pid is the server's), waiting for a line it prints, stopping it (SIGTERM, then
 * SIGKILL after 3 s), killing every child when the benchmark exits or is interrupted; the
 * /proc readings (CPU time and RSS of a pid); and how to run the proxy (the built bin when
 * `dist/` is fresh, else after `npm run build`, else its `main` from `src/` under tsx).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const repoRoot = join(import.meta.dirname, '..', '..');

const children = new Set<ChildProcess>();
let cleanupInstalled = false;
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
}

/** A server or load-generator process whose stdout is read line by line. */
export class Proc {
  readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private waiter: { match: RegExp; resolve: (m: RegExpExecArray) => void; reject: (e: Error) => void } | undefined;
  private output = '';
  /** Recent lines no waiter took: a line printed before `waitFor` was called is still found. */
  private unclaimed: string[] = [];
  private exitInfo: string | undefined;
  private readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv = {},
  ) {
    installCleanup();
    this.child = spawn(process.execPath, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(this.child);
    this.child.stdin!.on('error', () => undefined);
    // Lines on both streams can be waited for (the proxy logs to stderr); `result` lines only
    // come on stdout.
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.keep(`${line}\n`);
        const m = this.waiter?.match.exec(line);
        if (m && this.waiter) {
          const w = this.waiter;
          this.waiter = undefined;
          w.resolve(m);
        } else if (stream === this.child.stdout && line.startsWith('result ')) this.lines.push(line);
        else this.unclaimed = [...this.unclaimed.slice(-49), line];
      });
    }
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        children.delete(this.child);
        this.exitInfo = `code ${code}, signal ${signal}`;
        this.waiter?.reject(new Error(`${name} exited (${this.exitInfo}) while the benchmark waited for it; its output:\n${this.output}`));
        this.waiter = undefined;
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  private keep(text: string): void {
    this.output = (this.output + text).slice(-8000);
  }

  /** The next stdout line matching `match` (`result` lines are also buffered for `result()`). */
  waitFor(match: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    if (this.exitInfo !== undefined) return Promise.reject(new Error(`${this.name} has exited (${this.exitInfo}); its output:\n${this.output}`));
    for (const [i, line] of this.unclaimed.entries()) {
      const m = match.exec(line);
      if (m) {
        this.unclaimed = this.unclaimed.slice(i + 1);
        return Promise.resolve(m);
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`${this.name}: no line matching ${match} within ${timeoutMs} ms; its output:\n${this.output}`));
      }, timeoutMs);
      this.waiter = {
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Sends one line on stdin and waits for the `result <json>` answer. */
  async ask<T>(command: unknown, timeoutMs: number): Promise<T> {
    const answer = this.lines.length > 0 ? undefined : this.waitFor(/^result (.*)$/, timeoutMs);
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
    const line = answer ? (await answer)[1]! : this.lines.shift()!.slice(7);
    const parsed = JSON.parse(line) as T & { failed?: string };
    if (parsed.failed !== undefined) throw new Error(`${this.name}: ${parsed.failed}`);
    return parsed;
  }

  /** SIGTERM (and stdin closed), SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exitInfo !== undefined) return;
    this.child.stdin!.end();
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A free TCP port on 127.0.0.1 (bound and released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds a process has used so far in user and in kernel mode, from /proc/<pid>/stat. */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ", field 3 (state) is index 0, so utime (14) is 11 and stime (15) 12.
  return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS };
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** Resident and peak resident memory of a process in MiB, from /proc/<pid>/status. */
export function memoryMb(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function distFresh(): boolean {
  try {
    return statSync(join(repoRoot, 'dist', 'proxy', 'main.js')).mtimeMs >= newest(join(repoRoot, 'src'));
  } catch {
    return false;
  }
}

/**
 * The node arguments that start the proxy, and how it is run: `bin/cloudstate-proxy.js` (on
 * `dist/`), after `npm run build` when `dist/` is older than `src/` (tsc emits even when another
 * engineer's file in progress has a type error; the note says so); `main` from `src/` under tsx
 * only when there is no `dist/` at all or `fromSource` asks for it (slower: tsx's per-closure
 * `__name` helper). The report says which was measured.
 */
export function proxyCommand(fromSource: boolean, progress: (line: string) => void, build = true): { args: string[]; runs: 'dist' | 'src (tsx)'; buildNote?: string } {
  let buildNote: string | undefined;
  if (build && !fromSource && !distFresh()) {
    progress('dist/ is older than src/: npm run build');
    const built = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, encoding: 'utf8' });
    if (built.status !== 0) {
      const errors = `${built.stdout}${built.stderr}`.split('\n').filter((l) => l.includes('error TS'));
      buildNote = `npm run build exited ${built.status} (${errors.length} type errors, e.g. ${errors[0] ?? 'none shown'}); dist/ as emitted`;
      progress(buildNote);
    }
  }
  if (!fromSource && exists(join(repoRoot, 'dist', 'proxy', 'main.js'))) return { args: ['bin/cloudstate-proxy.js'], runs: 'dist', ...(buildNote ? { buildNote } : {}) };
  const script = `import { main } from './src/proxy/main.ts';
main(process.argv.slice(1), process.env).then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });`;
  return { args: ['--import', 'tsx', '--input-type=module', '-e', script, '--'], runs: 'src (tsx)', ...(buildNote ? { buildNote } : {}) };
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
