/**
 * `tsx benchmarks/support/proxy-profile.ts [http|grpc] [memory|leveldb] [seconds] [in-flight | rate=N]
 * [--no-build] [--src]`:
 * one proxy and its user function under the benchmark's closed loop, the proxy run with
 * `node --cpu-prof` (profile written to `$PROFILE_DIR`, default /tmp/proxy-profile, when the
 * proxy stops), and the proxy's hottest functions by self time printed from that profile.
 * `SESSIONS=<n>` sets the gRPC connections (default 4). `PROFILE_USER_FUNCTION=1` profiles the
 * user function too (its profile in `$PROFILE_DIR/user-function`, summarized after the proxy's).
 * For finding where the time goes; not part of `npm run bench:proxy`.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadResult } from './proxy-load.js';
import { cpuSeconds, cpuTimes, freePort, Proc, proxyCommand, repoRoot } from './proxy-processes.js';

const [protocol = 'http', store = 'memory', secondsArg = '10', inFlight = '64'] = process.argv.slice(2);
const profileDir = process.env.PROFILE_DIR ?? '/tmp/proxy-profile';
rmSync(profileDir, { recursive: true, force: true });
mkdirSync(profileDir, { recursive: true });
const dataDir = mkdtempSync(join(tmpdir(), 'bench-proxy-profile-'));
const sample = join(repoRoot, 'samples', 'shopping-cart', 'index.ts');
const ufFile = existsSync(sample) ? sample : join(import.meta.dirname, 'proxy-cart.ts');
const ufPort = await freePort();
const ufProfileDir = join(profileDir, 'user-function');
const ufProfiled = process.env.PROFILE_USER_FUNCTION === '1';
const uf = new Proc('user function', [...(ufProfiled ? ['--cpu-prof', `--cpu-prof-dir=${ufProfileDir}`] : []), '--import', 'tsx', ufFile], { PORT: String(ufPort) });
const proxyRun = proxyCommand(process.argv.includes('--src'), (l) => process.stderr.write(`${l}\n`), !process.argv.includes('--no-build'));
const proxy = new Proc('proxy', ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, ...proxyRun.args, '--dev', '--store', store, '--data-dir', dataDir, '--http-port', '0', '--user-function-port', String(ufPort)]);
const port = Number(/"httpPort":(\d+)/.exec((await proxy.waitFor(/"msg":"serving"/, 120_000)).input)?.[1]);
const loader = new Proc('load generator', ['--import', 'tsx', join(import.meta.dirname, 'proxy-load.ts')]);
await loader.waitFor(/^ready$/);
const job = { protocol, port, mode: 'closed', concurrency: Number(inFlight) || 64, seconds: 3, users: 1000, offset: 0, sessions: Number(process.env.SESSIONS ?? 4) };
await loader.ask<LoadResult>({ ...job, calls: 1000 }, 120_000);
await loader.ask<LoadResult>(job, 120_000);
// `IDLE_MS=<n>`: wait this long before the measured phase (with a short PASSIVATION_TIMEOUT, the
// phase then starts with every entity passivated: a burst of recoveries).
if (process.env.IDLE_MS) await new Promise((resolve) => setTimeout(resolve, Number(process.env.IDLE_MS)));
const cpu0 = [cpuSeconds(proxy.pid), cpuSeconds(uf.pid)];
const split0 = cpuTimes(proxy.pid);
const windowStartUs = Number(process.hrtime.bigint() / 1000n); // CLOCK_MONOTONIC, as the profile's timestamps
const t0 = Date.now();
const fixed = /^rate=(\d+)$/.exec(inFlight);
const r = await loader.ask<LoadResult>({ ...job, seconds: Number(secondsArg), ...(fixed ? { mode: 'fixed', rate: Number(fixed[1]) } : {}) }, 300_000);
const wall = (Date.now() - t0) / 1000;
const windowEndUs = Number(process.hrtime.bigint() / 1000n);
const split1 = cpuTimes(proxy.pid);
console.log(`${protocol} ${store} ${inFlight}: ${Math.round(r.perSec)}/s p50 ${r.p50Ms.toFixed(2)} p90 ${r.p90Ms.toFixed(2)} p99 ${r.p99Ms.toFixed(2)} errors ${r.errors} ${r.firstError ?? ''}; proxy ${((cpuSeconds(proxy.pid) - cpu0[0]!) / wall).toFixed(2)} cores, user function ${((cpuSeconds(uf.pid) - cpu0[1]!) / wall).toFixed(2)}, load generator ${r.loadGeneratorCpu.toFixed(2)}; proxy user ${((split1.user - split0.user) / wall).toFixed(2)} + system ${((split1.system - split0.system) / wall).toFixed(2)} cores`);
await loader.stop();
const stopped = Date.now();
await proxy.stop(30_000);
console.log(`proxy stopped in ${Date.now() - stopped} ms`);
await uf.stop();
rmSync(dataDir, { recursive: true, force: true });

// Self time per function (file:line) and per file, over the measured phase only (not start-up,
// activation or shutdown), from the .cpuprofile.
interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
function summarize(dir: string, windowStartUs: number, windowEndUs: number): void {
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (file === undefined) throw new Error(`no profile in ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const where = (f: Node['callFrame']) => f.url.replace(`file://${repoRoot}/`, '').replace(/^.*node_modules\//, '');
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const selfByFile = new Map<string, number>();
let at = profile.startTime;
let total = 0;
let idle = 0;
profile.samples.forEach((id, i) => {
  at += profile.timeDeltas[i] ?? 0;
  if (at < windowStartUs || at > windowEndUs) return;
  total++;
  const n = byId.get(id)!;
  if (n.callFrame.functionName === '(idle)') return void idle++;
  const key = `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame)}:${n.callFrame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + 1);
  const area = n.callFrame.url === '' ? n.callFrame.functionName : where(n.callFrame).replace(/^(@grpc\/grpc-js|protobufjs|prom-client|pino)\/.*/, '$1');
  selfByFile.set(area, (selfByFile.get(area) ?? 0) + 1);
  const seen = new Set<string>();
  for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
    const f = byId.get(x)!.callFrame;
    if (!['/dist/', '/src/', '/samples/'].some((d) => f.url.includes(d))) continue;
    const k = `${f.functionName || '(anonymous)'} ${where(f)}:${f.lineNumber + 1}`;
    if (!seen.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + 1);
    seen.add(k);
  }
});
const busy = total - idle;
const show = (m: Map<string, number>, n: number) => {
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`);
};
console.log(`profile ${join(dir, file)}: ${total} samples in the measured phase, ${((100 * idle) / Math.max(1, total)).toFixed(0)} % idle; shares below are of the busy samples`);
console.log('self time:');
show(self, 30);
console.log('self time by file (node_modules packages as one):');
show(selfByFile, 30);
console.log('inclusive time, functions of dist/, src/ or samples/:');
show(inclusive, 30);
}
summarize(profileDir, windowStartUs, windowEndUs);
if (ufProfiled) {
  console.log('\n---- user function ----');
  summarize(ufProfileDir, windowStartUs, windowEndUs);
}
process.exit(0);
