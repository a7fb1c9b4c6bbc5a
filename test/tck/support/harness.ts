/**
 * The TCK's topology, started and torn down for one test file:
 *
 *   client (gRPC, HTTP) ──▶ proxy (child process) ──▶ interceptor ──▶ user function (TCK models)
 *
 * The user function is started by the caller (in this process); the interceptor binds a free
 * port in front of it; the proxy is the real entrypoint, `node bin/cloudstate-proxy.js --dev
 * --store memory`, pointed at the interceptor (`USER_FUNCTION_PORT`) and serving on a free
 * `HTTP_PORT`. Ready when the proxy answers HTTP on its port (any status), as in the reference
 * TCK; then the discovery exchange the interceptor saw is at hand.
 *
 * The proxy runs from `bin/cloudstate-proxy.js` (which loads `dist/`) when `dist/` is at least
 * as new as every source file, as after `npm run build` (`npm test` builds first); otherwise
 * the same `main` is run from `src/` through tsx, so the TCK never checks stale code
 * (`TCK_PROXY=bin` or `TCK_PROXY=src` forces one or the other).
 *
 * A proxy that exits before it is ready fails the test file, with the proxy's output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Interceptor, type DiscoveryExchange } from './interceptor.js';
import { HttpClient, ModelClient } from './clients.js';

/** The repository root (where bin/ is). */
export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

/** A started user function: its port, and how to stop it. */
export interface UserFunctionHandle {
  readonly port: number;
  stop(): Promise<void>;
}

/** Everything a proxy test talks to. */
export interface TckEnvironment {
  readonly interceptor: Interceptor;
  /** The first discovery exchange (the proxy's ProxyInfo, the user function's EntitySpec). */
  readonly discovery: DiscoveryExchange;
  readonly proxyPort: number;
  /** gRPC client of the proxy's port. */
  readonly client: ModelClient;
  /** HTTP client of the proxy's port. */
  readonly http: HttpClient;
  /** The proxy's output so far (stdout and stderr interleaved), for failure messages. */
  proxyOutput(): string;
  /** Stops the proxy, the interceptor and the user function. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound and released; fine for a child that binds it next). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

export interface StartOptions {
  /** Starts the user function; the harness stops it on teardown. */
  readonly startUserFunction: () => Promise<UserFunctionHandle>;
  /** How long the proxy may take to answer HTTP (default 30 s: the machine is shared). */
  readonly readyTimeoutMs?: number;
  /** Extra arguments for the proxy. */
  readonly proxyArgs?: readonly string[];
}

/** Starts user function, interceptor and proxy; throws (with the proxy's output) when the proxy does not come up. */
export async function startTck(options: StartOptions): Promise<TckEnvironment> {
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const userFunction = await options.startUserFunction();
    stops.push(() => userFunction.stop());
    const interceptor = new Interceptor(`127.0.0.1:${userFunction.port}`);
    const interceptorPort = await interceptor.start();
    stops.push(() => interceptor.stop());

    const proxyPort = await freePort();
    const proxy = spawn(process.execPath, [...proxyCommand(), '--dev', '--store', 'memory', ...(options.proxyArgs ?? [])], {
      cwd: repoRoot,
      env: { ...process.env, USER_FUNCTION_HOST: '127.0.0.1', USER_FUNCTION_PORT: String(interceptorPort), HTTP_PORT: String(proxyPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    proxy.stdout!.on('data', keep);
    proxy.stderr!.on('data', keep);
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const exit = new Promise<void>((resolve) =>
      proxy.once('exit', (code, signal) => {
        exited = { code, signal };
        resolve();
      }),
    );
    stops.push(() => stopProcess(proxy, exit));

    const http = new HttpClient(`http://127.0.0.1:${proxyPort}`);
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (exited) throw new Error(`the proxy exited before it was ready (code ${exited.code}, signal ${exited.signal}); its output:\n${output}`);
      if (await answers(http)) break;
      if (Date.now() > deadline) throw new Error(`the proxy did not answer HTTP on port ${proxyPort} within ${options.readyTimeoutMs ?? 30_000} ms; its output:\n${output}`);
      await Promise.race([sleep(100), exit]); // polling a child process's port: nothing to await
    }

    const discovery = await interceptor.expectDiscovery(1_000).catch((e: Error) => {
      throw new Error(`the proxy is up but the interceptor saw no discovery: ${e.message}; proxy output:\n${output}`);
    });
    const client = new ModelClient(`127.0.0.1:${proxyPort}`);
    stops.push(async () => client.close());
    return { interceptor, discovery, proxyPort, client, http, proxyOutput: () => output, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** The newest modification time of the files under `dir` (0 if there are none). */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/**
 * How to start the proxy: the real bin when dist/ is fresh, else `main` from src/ via tsx.
 * `TCK_PROXY=bin` or `TCK_PROXY=src` forces one.
 */
export function proxyCommand(): string[] {
  const built = join(repoRoot, 'dist', 'proxy', 'main.js');
  let fresh = process.env.TCK_PROXY === 'bin';
  if (process.env.TCK_PROXY === undefined || process.env.TCK_PROXY === '') {
    try {
      fresh = statSync(built).mtimeMs >= newest(join(repoRoot, 'src'));
    } catch {
      fresh = false;
    }
  }
  if (fresh) return ['bin/cloudstate-proxy.js'];
  const script = `import { main } from './src/proxy/main.ts';
main(process.argv.slice(1), process.env).then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });`;
  return ['--import', 'tsx', '--input-type=module', '-e', script, '--'];
}

async function answers(http: HttpClient): Promise<boolean> {
  try {
    await http.request('GET', '/');
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL if the process is still there after 1 s (a graceful cluster leave takes longer, and no test looks at it). */
async function stopProcess(child: ChildProcess, exit: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killed = await Promise.race([exit.then(() => true), sleep(1_000).then(() => false)]);
  if (!killed) {
    child.kill('SIGKILL');
    await exit;
  }
}
