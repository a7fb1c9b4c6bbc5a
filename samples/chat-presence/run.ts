/**
 * The whole chat presence demo on one machine: two Cloudstate proxies forming one cluster (node 1
 * seeds node 2; memory store, local failure detection), each beside its own presence user
 * function (./index.ts, its own process), and the gateway (./gateway.ts) serving the page and
 * talking to both proxies. Run it with `npm run build && node --import tsx
 * samples/chat-presence/run.ts` (the proxy bin runs the built code in dist/); it prints the
 * page's URL. `PORT` sets the gateway's port (default 3000), `HOST` its interface
 * (default 127.0.0.1), `--verbose` passes the proxies' logs through.
 *
 * `startChatPresence` is what the browser test starts, so the test runs the demo as a user does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startGateway, type Gateway } from './gateway.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const proxyBin = fileURLToPath(new URL('../../bin/cloudstate-proxy.js', import.meta.url));
const userFunctionScript = fileURLToPath(new URL('./index.ts', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const LOG_TAIL = 30_000;

/** One proxy of the demo with its user function. */
export interface ProxyNode {
  /** 1 or 2, as the page numbers it. */
  readonly id: number;
  /** The proxy's HTTP/gRPC ingress, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** `host:port` of its cluster member. */
  readonly clusterAddress: string;
  readonly proxy: ChildProcess;
  readonly userFunction: ChildProcess;
  /** The tail of the proxy's and the user function's output. */
  log(): string;
}

export interface ChatPresence {
  readonly gateway: Gateway;
  /** The page. */
  readonly url: string;
  readonly nodes: readonly ProxyNode[];
  /** Stops the gateway, then every proxy (SIGTERM, a graceful leave) and user function. */
  stop(): Promise<void>;
}

export interface ChatPresenceOptions {
  /** The gateway's port (0, default: any free port) and interface (default 127.0.0.1). */
  readonly gatewayPort?: number;
  readonly gatewayHost?: string;
  /** Delay before the gateway opens a failed presence stream again, in ms. */
  readonly retryMs?: number;
  /** Each output line of a proxy or user function, with its node. */
  readonly onOutput?: (node: number, line: string) => void;
}

/** Every child started here, killed if this process exits without stopping them. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Resolves the first output line of `watched` for which `pick` returns a value; rejects when one
 * of `children` exits first or after READY_TIMEOUT_MS, with the output so far.
 */
function waitForLine<T>(
  what: string,
  subscribe: (onLine: (line: string) => void) => () => void,
  children: ChildProcess[],
  output: () => string,
  pick: (line: string) => T | undefined,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const exited = (code: number | null, signal: string | null) => done(new Error(`a process exited (${code ?? signal}) before ${what}:\n${output()}`));
    const timer = setTimeout(() => done(new Error(`no ${what} within ${READY_TIMEOUT_MS} ms:\n${output()}`)), READY_TIMEOUT_MS);
    const unsubscribe = subscribe((line) => {
      const value = pick(line);
      if (value !== undefined) done(undefined, value);
    });
    for (const child of children) child.once('exit', exited);
    function done(error: Error | undefined, value?: T) {
      clearTimeout(timer);
      unsubscribe();
      for (const child of children) child.off('exit', exited);
      if (error) reject(error);
      else resolve(value as T);
    }
  });
}

/** The JSON log entry of `line` when its message is `msg`. */
function logEntry(line: string, msg: string): Record<string, unknown> | undefined {
  if (!line.includes(`"${msg}"`)) return undefined;
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    return entry.msg === msg ? entry : undefined;
  } catch {
    return undefined; // not a log line
  }
}

/**
 * Starts node `id`: its user function, then (once that listens, so discovery needs no retry)
 * its proxy on cluster port `clusterPort` with `seeds`. Resolves once the proxy logs `serving`.
 */
async function startNode(id: number, clusterPort: number, seeds: string[], onOutput?: ChatPresenceOptions['onOutput']): Promise<ProxyNode> {
  const ufPort = await freePort();
  let output = '';
  const listeners = new Set<(line: string) => void>();
  const subscribe = (listener: (line: string) => void) => (listeners.add(listener), () => void listeners.delete(listener));
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let buffered = '';
    stream?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-LOG_TAIL);
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        onOutput?.(id, line);
        for (const listener of [...listeners]) listener(line);
      }
    });
  };
  const userFunction = track(spawn(process.execPath, ['--import', 'tsx', userFunctionScript], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: String(ufPort) },
  }));
  collect(userFunction.stdout);
  collect(userFunction.stderr);
  let proxy: ChildProcess | undefined;
  try {
    await waitForLine(`the user function of node ${id} listening`, subscribe, [userFunction], () => output, (line) => logEntry(line, 'user function listening'));
    const args = [proxyBin, '--store', 'memory', '--cluster-preset', 'local', '--cluster-port', String(clusterPort), '--http-port', '0', '--user-function-port', String(ufPort)];
    if (seeds.length > 0) args.push('--seeds', seeds.join(','));
    proxy = track(spawn(process.execPath, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' } }));
    collect(proxy.stdout);
    collect(proxy.stderr);
    const serving = await waitForLine(`proxy node ${id} serving`, subscribe, [userFunction, proxy], () => output, (line) => {
      const entry = logEntry(line, 'serving');
      return entry && typeof entry.httpPort === 'number' && typeof entry.clusterAddress === 'string'
        ? { httpPort: entry.httpPort, clusterAddress: entry.clusterAddress }
        : undefined;
    });
    return { id, url: `http://127.0.0.1:${serving.httpPort}`, clusterAddress: serving.clusterAddress, proxy, userFunction, log: () => output };
  } catch (error) {
    await Promise.all([proxy && stopChild(proxy), stopChild(userFunction)]);
    throw error;
  }
}

/**
 * Starts two proxies in one cluster, each with a presence user function, and the gateway. Both
 * nodes start at once: node 1's cluster port is chosen here so node 2 can name it as its seed.
 */
export async function startChatPresence(options: ChatPresenceOptions = {}): Promise<ChatPresence> {
  const seedPort = await freePort();
  const started = await Promise.allSettled([
    startNode(1, seedPort, [], options.onOutput),
    startNode(2, 0, [`127.0.0.1:${seedPort}`], options.onOutput),
  ]);
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stopNodes = () => Promise.all(nodes.map((node) => Promise.all([stopChild(node.proxy), stopChild(node.userFunction)])));
  try {
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const gateway = await startGateway({
      nodes: nodes.map((node) => node.url),
      port: options.gatewayPort ?? 0,
      ...(options.gatewayHost === undefined ? {} : { host: options.gatewayHost }),
      ...(options.retryMs === undefined ? {} : { retryMs: options.retryMs }),
    });
    return {
      gateway,
      url: gateway.url,
      nodes,
      async stop() {
        await gateway.close();
        await stopNodes();
      },
    };
  } catch (error) {
    await stopNodes();
    throw error;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const verbose = process.argv.includes('--verbose');
  console.log('chat presence: starting two proxies and their presence user functions…');
  const chat = await startChatPresence({
    gatewayPort: Number(process.env.PORT ?? 3000),
    gatewayHost: process.env.HOST ?? '127.0.0.1',
    ...(verbose ? { onOutput: (node: number, line: string) => console.log(`[node ${node}] ${line}`) } : {}),
  }).catch((error: unknown) => {
    console.error(`chat presence did not start: ${(error as Error).message}`);
    process.exit(1);
  });
  for (const node of chat.nodes) console.log(`  node ${node.id}: proxy ${node.url} (cluster ${node.clusterAddress})`);
  console.log(`\nOpen ${chat.url} — Ctrl-C stops everything.`);
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    void chat.stop().then(() => process.exit(code));
  };
  for (const node of chat.nodes) {
    for (const [what, child] of [['proxy', node.proxy], ['user function', node.userFunction]] as const) {
      child.once('exit', (code, signal) => {
        if (stopping) return;
        console.error(`the ${what} of node ${node.id} exited (${code ?? signal}); its output:\n${node.log()}`);
        stop(1);
      });
    }
  }
  process.once('SIGINT', () => stop(0));
  process.once('SIGTERM', () => stop(0));
}
