// The autoscaler singleton's runtime on virtual time: it waits for every member's report, then
// decides on each tick, logs one line per decision, calls the scaler (again, if the call
// failed), exports its metrics and removes them when it stops; a new instance carries on from
// the state the nodes heard last; the platform's word on an upgrade counts.
import { pino } from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import { Autoscaler } from '../../../src/autoscale/autoscaler.js';
import type { MetricsReport } from '../../../src/autoscale/metrics.js';
import { autoscalerPrometheus } from '../../../src/autoscale/prometheus.js';
import type { Scaler, ScalerStatus } from '../../../src/autoscale/scaler.js';
import { resolveSettings } from '../../../src/autoscale/settings.js';
import { ManualScheduler } from '../../../src/core/index.js';

const settings = resolveSettings({ tickPeriodMs: 2000, reportIntervalMs: 1000, requestRateWindowMs: 6000, targetConcurrencyWindowMs: 20_000 });

class FakeScaler implements Scaler {
  calls: number[] = [];
  failNext = 0;
  platform: ScalerStatus | undefined;
  async scale(members: number) {
    this.calls.push(members);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('API down');
    }
  }
  async status(): Promise<ScalerStatus> {
    if (!this.platform) throw new Error('no status');
    return this.platform;
  }
}

function setup(members: string[], options: { initialState?: Autoscaler['state']; platform?: ScalerStatus } = {}) {
  const clock = new ManualScheduler();
  const lines: { msg: string; level: number; [k: string]: unknown }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const scaler = new FakeScaler();
  scaler.platform = options.platform;
  const registry = new Registry();
  const autoscaler = new Autoscaler({ settings, scaler, members: () => members, clock, scheduler: clock, logger, metrics: autoscalerPrometheus(registry), initialState: options.initialState, statusIntervalMs: 0 });
  /** Every member (or those given) reports `r` each second for `seconds`, ticks running meanwhile. */
  const run = async (seconds: number, r: (id: string) => Partial<MetricsReport>, reporters = members) => {
    for (let i = 0; i < seconds; i++) {
      await clock.advanceAsync(1000);
      for (const id of reporters) autoscaler.receive({ type: 'report', report: { intervalMs: 1000, requestConcurrency: 0, userFunctionConcurrency: 0, databaseConcurrency: 0, requestCount: 0, requestsEnded: 0, requestTimeMs: 0, ...r(id) } }, id);
    }
  };
  return { clock, lines, scaler, registry, autoscaler, run };
}

const metric = async (registry: Registry, name: string) => (await registry.getSingleMetric(name)?.get())?.values;

t.test('decides once every member reported, logs one line, scales, exports metrics', async (t) => {
  const { lines, scaler, registry, autoscaler, run } = setup(['a', 'b']);
  await run(10, () => ({ userFunctionConcurrency: 3, requestCount: 50 }), ['a']);
  t.same(scaler.calls, [], 'b never reported: no decision');
  await run(8, () => ({ userFunctionConcurrency: 3, requestCount: 50 }));
  t.same(scaler.calls, [4], 'both at 3 against a target of 1: 2 → 4 (capped by maxScale 2)');
  const decision = lines.filter((l) => l.decision);
  t.equal(decision.length, 1, 'one decision line');
  t.match(decision[0], { level: 30, msg: /^scaling up from 2 to 4: user-function concurrency 3(\.00)? per node exceeds target 1$/, from: 2, to: 4, reason: 'user-function-concurrency', members: 2, requestRate: 100 });
  t.match(autoscaler.state, { kind: 'scaling-up', desired: 4 });
  t.match(await metric(registry, 'cloudstate_autoscaler_decisions_total'), [{ value: 1, labels: { direction: 'up', reason: 'user-function-concurrency' } }]);
  t.match(await metric(registry, 'cloudstate_autoscaler_desired_members'), [{ value: 4 }]);
  t.match(await metric(registry, 'cloudstate_autoscaler_current_members'), [{ value: 2 }]);
  t.match(await metric(registry, 'cloudstate_autoscaler_user_function_concurrency'), [{ value: 3 }]);
  const reply = autoscaler.receive({ type: 'report', report: { intervalMs: 1, requestConcurrency: 0, userFunctionConcurrency: 0, databaseConcurrency: 0, requestCount: 0, requestsEnded: 0, requestTimeMs: 0 } }, 'a');
  t.match(reply.state, { kind: 'scaling-up', desired: 4 }, 'each report is answered with the state');
  await run(60, () => ({ userFunctionConcurrency: 3, requestCount: 50 }));
  t.same(scaler.calls, [4], 'within the 3-minute stable period: nothing more at the same rate');
  await autoscaler.stop();
  t.equal(registry.getSingleMetric('cloudstate_autoscaler_decisions_total'), undefined, 'metrics removed when the instance stops');
  t.same(autoscaler.receive({ type: 'nonsense' } as never, 'a').state, autoscaler.state, 'a malformed message is dropped');
});

t.test('a failed scaler call is made again on the next tick', async (t) => {
  const { lines, scaler, autoscaler, run } = setup(['a']);
  scaler.failNext = 2;
  await run(10, () => ({ userFunctionConcurrency: 2 }));
  t.same(scaler.calls, [2, 2, 2], 'failed twice, then accepted');
  t.equal(lines.filter((l) => /scaler failed/.test(l.msg)).length, 2);
  await run(10, () => ({ userFunctionConcurrency: 2 }));
  t.same(scaler.calls, [2, 2, 2], 'accepted: not asked again');
  await autoscaler.stop();
});

t.test('a new host carries on from the state the nodes heard', async (t) => {
  const clock = new ManualScheduler();
  const initialState = { kind: 'scaling-up' as const, desired: 3, deadline: clock.now() + 60_000, anchorDesired: 3, anchorRate: 100 };
  const { scaler, autoscaler, run } = setup(['a', 'b', 'c'], { initialState });
  await run(30, () => ({ userFunctionConcurrency: 5, requestCount: 33 }));
  t.same(scaler.calls, [], 'still in the stable period it inherited');
  await run(40, () => ({ userFunctionConcurrency: 5, requestCount: 33 }));
  t.same(scaler.calls, [5], 'after it: concurrency counts again');
  await autoscaler.stop();
});

t.test('the platform says an upgrade is rolling out: rate only', async (t) => {
  const { lines, scaler, autoscaler, run } = setup(['a', 'b'], { platform: { desired: 2, upgrading: true } });
  await run(10, () => ({ userFunctionConcurrency: 5, requestCount: 10 }));
  t.same(scaler.calls, [], 'concurrency during an upgrade: nothing');
  t.match(autoscaler.state, { kind: 'upgrading', desired: 2, anchorRate: 20 });
  t.ok(lines.some((l) => /upgrade in progress/.test(l.msg)));
  await run(8, () => ({ userFunctionConcurrency: 5, requestCount: 20 }));
  t.same(scaler.calls, [4], 'rate doubled: 2 → 4');
  await autoscaler.stop();
});
