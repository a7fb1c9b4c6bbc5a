/**
 * Real proxy processes for the integration tests: `bin/cloudstate-proxy.js` (built code, as a
 * user runs it) beside its own user function, the shopping-cart sample unless another script is
 * given (a child of the test, on a free port given as `PORT`, so a kill of the proxy leaves it to the test to stop). Resolves once the proxy logs `serving` with its HTTP port and its
 * cluster address; its log is kept for failure messages. Every process started here is killed
 * when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

const repo = join(import.meta.dirname, '..', '..');
export const proxyBin = join(repo, 'bin', 'cloudstate-proxy.js');
export const shoppingCartScript = join(repo, 'samples', 'shopping-cart', 'index.ts');

export interface ProxyProcess {
  readonly proc: ChildProcess;
  readonly httpPort: number;
  /** `host:port` of its cluster member, for other proxies' `--seeds`. */
  readonly clusterAddress: string;
  /** The tail of its output. */
  log(): string;
  /** SIGTERM (graceful: leaves the cluster) and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash (the user function goes too). */
  kill(): Promise<void>;
  /** The user function process beside it (replaced by `restartUserFunction`). */
  readonly userFunction: ChildProcess;
  /** SIGKILL of the user function only. */
  killUserFunction(): Promise<void>;
  /** Starts the user function again on its port; resolves once it listens. */
  restartUserFunction(): Promise<void>;
}

const all = new Set<ChildProcess>();
process.on('exit', () => {
  for (const proc of all) proc.kill('SIGKILL');
});

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port` (30 s at most). */
export async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Retries `fn` every 250 ms until it resolves, for `timeoutMs` at most (while a cluster settles after a kill). */
export async function eventually<T>(what: string, fn: () => Promise<T>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(error as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export interface StartProxyOptions {
  /** The user function's script, run with `node --import tsx` (default: the shopping-cart sample). */
  readonly userFunctionScript?: string;
  /** Or the user function's command line, program first (e.g. a Python user function); wins over `userFunctionScript`. */
  readonly userFunctionCommand?: readonly string[];
}

export async function startProxy(args: string[], env: NodeJS.ProcessEnv = {}, readyTimeoutMs = 60_000, options: StartProxyOptions = {}): Promise<ProxyProcess> {
  const ufPort = await freePort();
  const script = options.userFunctionScript ?? shoppingCartScript;
  const [program, ...programArgs] = options.userFunctionCommand ?? [process.execPath, '--import', 'tsx', script];
  const spawnUserFunction = () => {
    const uf = spawn(program!, programArgs, {
      cwd: repo,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, PORT: String(ufPort) },
    });
    all.add(uf);
    uf.once('exit', () => all.delete(uf));
    return uf;
  };
  let userFunction = spawnUserFunction();
  const proc = spawn(process.execPath, [proxyBin, '--http-port', '0', '--user-function-port', String(ufPort), ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
  });
  all.add(proc);
  let output = '';
  const exited = new Promise<void>((resolve) => proc.once('exit', () => (all.delete(proc), resolve())));
  const onData = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-50_000));
  const serving = await new Promise<{ httpPort: number; clusterAddress: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy not serving within ${readyTimeoutMs} ms:\n${output}`)), readyTimeoutMs);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`proxy exited (${code ?? signal}) before serving:\n${output}`));
    });
    // The log (pino JSON lines) goes to stderr; stdout is scanned too.
    const scan = (stream: NodeJS.ReadableStream) => {
      let buffered = '';
      stream.on('data', (chunk: Buffer) => {
      onData(chunk);
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (!line.includes('"serving"')) continue;
        try {
          const entry = JSON.parse(line) as { msg?: string; httpPort?: number; clusterAddress?: string };
          if (entry.msg === 'serving' && entry.httpPort && entry.clusterAddress) {
            clearTimeout(timer);
            resolve({ httpPort: entry.httpPort, clusterAddress: entry.clusterAddress });
          }
        } catch {
          // not a log line
        }
      }
      });
    };
    scan(proc.stdout!);
    scan(proc.stderr!);
  });
  const stopUserFunction = async () => {
    if (userFunction.exitCode !== null || userFunction.signalCode !== null) return;
    const exit = new Promise((resolve) => userFunction.once('exit', resolve));
    userFunction.kill('SIGKILL');
    await exit;
  };
  return {
    proc,
    get userFunction() {
      return userFunction;
    },
    killUserFunction: stopUserFunction,
    async restartUserFunction() {
      await stopUserFunction();
      userFunction = spawnUserFunction();
      await waitForPort(ufPort);
    },
    ...serving,
    log: () => output,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      await stopUserFunction();
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
      await stopUserFunction();
    },
  };
}
