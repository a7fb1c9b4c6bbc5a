/**
 * Starts a real PostgreSQL server for tests and benchmarks: initdb in a fresh temp directory,
 * `postgres` on a free 127.0.0.1 port with its socket in that directory and trust auth, ready
 * when a connection succeeds. PostgreSQL refuses to run as root, so when this process is root
 * (as CI is) the server runs as the `postgres` user, which owns the directory.
 *
 * `kill()` takes down the postmaster and all its backends at once, as a crash of the machine
 * would (acknowledged commits must survive it; fsync on is the default). The server runs in a
 * session of its own (a terminal's Ctrl-C reaches only us) and never outlives this process by
 * accident: on exit, and on SIGINT/SIGTERM/SIGHUP/SIGALRM (a test runner's timeout), every server
 * still running is killed and its directory removed. Only SIGKILL of this process escapes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string;
  readonly port: number;
  /** The temp directory holding the data directory and the socket. */
  readonly directory: string;
  /** Fast shutdown (SIGINT: clients are disconnected, data is kept); resolves once it exited. */
  stop(): Promise<void>;
  /** SIGKILL to the server and all its backends, as a crash would; resolves once all are gone. */
  kill(): Promise<void>;
  /** Starts the server again (stopping it first if it runs) on the same port and data directory. */
  restart(): Promise<void>;
  /** Stops the server and removes its directory. Idempotent. */
  destroy(): Promise<void>;
}

export interface StartOptions {
  /** fsync on (durable, the default) or off (faster tests that do not measure durability). */
  fsync?: boolean;
  /** How long to wait for the server to accept connections, in ms (default 30,000). */
  readyTimeoutMs?: number;
}

/** The directory with initdb and postgres: the highest /usr/lib/postgresql/N/bin, else pg_config's. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))) : [];
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  if (versions[0]) return join(root, versions[0], 'bin');
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (existsSync(join(dir, 'postgres')) && existsSync(join(dir, 'initdb'))) return dir;
  } catch {
    // no pg_config either
  }
  throw new Error('PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or `pg_config --bindir`: apt-get install postgresql');
}

/** The uid/gid to run the server as: `postgres` when we are root, ourselves otherwise. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    return { uid, gid };
  } catch {
    throw new Error('running as root, PostgreSQL must run as another user, and there is no `postgres` user (apt-get install postgresql creates it)');
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The state letter and parent pid of a process from /proc, or undefined when it is gone. */
function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state = '', ppid = '0'] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/**
 * The postmaster's children (backends, checkpointer, …). Each calls setsid(), so they are not
 * in the postmaster's process group and must be found by parent pid. Empty without /proc.
 */
function childrenOf(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries.filter((e) => /^\d+$/.test(e) && procStat(Number(e))?.ppid === pid).map(Number);
}

/** True while the process runs (a zombie has finished: it only waits to be reaped). */
function alive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** SIGKILL to the postmaster and its children at once, as a crash of the machine would. */
function killAll(pid: number): number[] {
  const pids = [pid, ...childrenOf(pid)];
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids;
}

// Servers still running, by their synchronous emergency cleanup; installed hooks run them all.
const running = new Set<() => void>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const cleanupAll = () => {
    for (const cleanup of [...running]) cleanup();
  };
  process.on('exit', cleanupAll);
  // SIGALRM: tap's timeout signal (then SIGKILL, which nothing can catch).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGALRM'] as const) {
    const onSignal = () => {
      cleanupAll();
      // Take our listener away and deliver the signal again: the default action (or the
      // process's other listeners) decides what happens, as if we had never listened.
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Initializes a data directory and starts PostgreSQL on a free loopback port. */
export async function startPostgres(options: StartOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'cs-pg-'));
  const data = join(dir, 'data');
  chmodSync(dir, 0o700);
  if (user) chownSync(dir, user.uid, user.gid);
  const asServer = { ...(user ?? {}), cwd: dir }; // cwd: the server user may not be able to read ours
  try {
    execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], {
      stdio: 'pipe',
      ...asServer,
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`initdb failed: ${(err as Error).message}\n${stderr}`);
  }

  let port = 0;
  let proc: ChildProcess | undefined;
  let log = '';
  let destroyed = false;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const url = () => `postgres://postgres@127.0.0.1:${port}/postgres`;

  const emergencyCleanup = () => {
    if (proc?.pid !== undefined && proc.exitCode === null && proc.signalCode === null) killAll(proc.pid);
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    } catch {
      // a dying backend may still hold a file; the OS cleans the temp dir eventually
    }
    running.delete(emergencyCleanup);
  };
  running.add(emergencyCleanup);
  installExitHooks();

  const isUp = () => proc !== undefined && proc.exitCode === null && proc.signalCode === null;

  /** Spawns postgres and resolves once it accepts a connection; rejects (with its log) if it exits. */
  const launch = async () => {
    log = '';
    const args = ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`];
    args.push('-c', `fsync=${options.fsync === false ? 'off' : 'on'}`, '-c', 'synchronous_commit=on', '-c', 'max_connections=200');
    const child = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...asServer });
    proc = child;
    const append = (d: Buffer) => (log = (log + d.toString()).slice(-20_000));
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    child.on('error', (err) => append(Buffer.from(`spawn error: ${err.message}\n`)));
    // A server left running must not keep this process alive; the exit hook kills it.
    child.unref();
    (child.stdout as unknown as { unref?(): void }).unref?.();
    (child.stderr as unknown as { unref?(): void }).unref?.();
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}):\n${log}`);
      const client = new pg.Client({ connectionString: url(), connectionTimeoutMillis: 1000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
        return;
      } catch {
        await client.end().catch(() => undefined);
      }
      if (Date.now() > deadline) {
        await signalAndWait('SIGKILL');
        throw new Error(`postgres did not accept connections within ${readyTimeoutMs} ms:\n${log}`);
      }
      await delay(25);
    }
  };

  /**
   * SIGINT: fast shutdown, the postmaster disconnects clients, checkpoints and exits after its
   * children. SIGKILL: the postmaster and every child at once. Resolves once all are gone.
   */
  const signalAndWait = async (signal: 'SIGINT' | 'SIGKILL') => {
    const child = proc;
    if (child?.pid === undefined || !isUp()) return;
    const pid = child.pid;
    child.ref(); // keep this process alive until the exit is seen (the child is unref'd)
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let pids = [pid];
    if (signal === 'SIGKILL') {
      pids = killAll(pid);
    } else {
      try {
        process.kill(pid, signal);
      } catch {
        // exited meanwhile
      }
    }
    await exited;
    child.unref();
    // A restart needs the old backends gone (they hold shared memory); killed ones go at once.
    for (const deadline = Date.now() + 10_000; pids.some(alive) && Date.now() < deadline; ) await delay(10);
  };

  // The port is free when we pick it but may be taken before postgres binds it: pick again.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      if (attempt < 3 && /could not bind|Address already in use|could not create any TCP\/IP sockets/i.test(log)) continue;
      emergencyCleanup();
      throw err;
    }
  }

  return {
    get url() {
      return url();
    },
    get port() {
      return port;
    },
    directory: dir,
    stop: () => signalAndWait('SIGINT'),
    kill: () => signalAndWait('SIGKILL'),
    async restart() {
      if (destroyed) throw new Error('this PostgreSQL server was destroyed');
      await signalAndWait('SIGINT');
      await launch();
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await signalAndWait('SIGINT');
      emergencyCleanup();
    },
  };
}

/** Polls `condition` every 10 ms until it holds; fails after `ms` (tests waiting on what the server shows). */
export async function until(what: string, condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  for (const deadline = Date.now() + ms; !(await condition()); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
