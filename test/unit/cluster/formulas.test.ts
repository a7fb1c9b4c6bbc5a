import t from 'tap';
import { presets, swimConfig } from '../../../src/cluster/index.js';
import type { SwimConfig } from '../../../src/cluster/index.js';
import { SeededRandom } from '../../../src/core/index.js';
import {
  clampHealthScore,
  expectedConfirmations,
  minSuspicionTimeout,
  nodeScale,
  probeOrder,
  randomMembers,
  retransmitLimit,
  scaleByHealth,
  suspicionTimeout,
} from '../../../src/cluster/formulas.js';

t.test('retransmit limit grows with log10(N+1)', async (t) => {
  const table: [mult: number, n: number, limit: number][] = [
    [4, 0, 0],
    [4, 1, 4],
    [4, 9, 4],
    [4, 10, 8],
    [4, 99, 8],
    [4, 100, 12],
    [3, 1000, 12],
  ];
  for (const [mult, n, limit] of table) t.equal(retransmitLimit(mult, n), limit, `mult ${mult}, N ${n}`);
});

t.test('suspicion timeouts scale with log10(N), never below one probe multiple', async (t) => {
  const table: [n: number, scale: number][] = [[0, 1], [1, 1], [10, 1], [100, 2], [1000, 3]];
  for (const [n, scale] of table) t.equal(nodeScale(n), scale, `nodeScale(${n})`);
  t.equal(minSuspicionTimeout(4, 100, 1000), 8000);
  t.equal(minSuspicionTimeout(3, 5, 100), 300);
});

t.test('Lifeguard: the suspicion timeout falls from max to min as confirmations arrive', async (t) => {
  const [min, max, k] = [1000, 6000, 3];
  const table: [confirmations: number, timeout: number][] = [
    [0, 6000],
    [1, 3500],
    [2, 2037],
    [3, 1000],
    [10, 1000],
  ];
  for (const [c, timeout] of table) t.equal(suspicionTimeout(c, k, min, max), timeout, `${c} confirmations`);
  t.equal(suspicionTimeout(0, 0, min, max), min, 'no one can confirm: the minimum');
  const series = [0, 1, 2, 3].map((c) => suspicionTimeout(c, k, min, max));
  t.ok(series.every((v, i) => i === 0 || v < series[i - 1]!), 'strictly falling');
});

t.test('expected confirmations are bounded by the members that can suspect', async (t) => {
  const table: [indirect: number, n: number, expected: number][] = [[3, 1, 0], [3, 2, 0], [3, 3, 1], [3, 5, 3], [3, 50, 3]];
  for (const [k, n, e] of table) t.equal(expectedConfirmations(k, n), e, `k ${k}, N ${n}`);
});

t.test('local health scales timeouts and is clamped', async (t) => {
  t.equal(clampHealthScore(-1, 8), 0);
  t.equal(clampHealthScore(3, 8), 3);
  t.equal(clampHealthScore(20, 8), 7);
  t.equal(scaleByHealth(500, 0), 500);
  t.equal(scaleByHealth(500, 3), 2000);
});

t.test('probe order is a seeded permutation; random members honour exclusion', async (t) => {
  const members = ['a', 'b', 'c', 'd', 'e', 'f'];
  const order = probeOrder(members, new SeededRandom(1));
  t.same([...order].sort(), members);
  t.same(probeOrder(members, new SeededRandom(1)), order, 'replays from the seed');
  const picked = randomMembers(members, 3, new SeededRandom(2), (m) => m === 'a' || m === 'b');
  t.equal(picked.length, 3);
  t.notOk(picked.includes('a') || picked.includes('b'));
  t.equal(randomMembers(members, 10, new SeededRandom(3)).length, 6);
});

t.test('swimConfig: a preset with overrides; incoherent settings refused with the reason', async (t) => {
  t.same(swimConfig('local'), presets.local, 'a preset as it is');
  t.equal(swimConfig('local', { probeIntervalMs: 500, probeTimeoutMs: 200 }).probeTimeoutMs, 200, 'overrides applied');
  t.equal(swimConfig('lan', { indirectChecks: 0 }).indirectChecks, 0, 'no indirect probes is allowed');
  const refused = (overrides: Partial<SwimConfig>): string => {
    try {
      swimConfig('local', overrides);
      return 'accepted';
    } catch (error) {
      return `${(error as { code?: string }).code}: ${(error as Error).message}`;
    }
  };
  t.match(refused({ probeTimeoutMs: 200 }), /^ERR_CLUSTER_CONFIG: probeTimeoutMs \(200\) must be shorter than probeIntervalMs \(100\)/, 'a timeout past the interval leaves no time for indirect probes');
  t.match(refused({ probeTimeoutMs: 100 }), /must be shorter/, 'nor one equal to it');
  t.match(refused({ probeIntervalMs: 0 }), /^ERR_CLUSTER_CONFIG: cluster setting probeIntervalMs must be a positive number, got 0/);
  t.match(refused({ suspicionMult: Number.NaN }), /suspicionMult must be a positive number/);
});
