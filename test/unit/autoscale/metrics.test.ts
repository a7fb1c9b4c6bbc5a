// What a node measures (MetricsRecorder, on a manual clock), how the autoscaler summarizes the
// reports (LoadWindow: concurrency over its window, rate over the rate window, upgrades), and
// the settings (defaults, environment variables, validation).
import t from 'tap';
import { ManualScheduler, hasCode } from '../../../src/core/index.js';
import { LoadWindow } from '../../../src/autoscale/load.js';
import { MetricsRecorder } from '../../../src/autoscale/metrics.js';
import type { MetricsReport } from '../../../src/autoscale/metrics.js';
import { autoscalerEnabled, autoscalerSettingsFromEnv, defaultAutoscalerSettings, parseDuration, resolveSettings } from '../../../src/autoscale/settings.js';

t.test('recorder: time-weighted concurrency per interval', async (t) => {
  const clock = new ManualScheduler();
  const m = new MetricsRecorder({ clock, version: '1.0' });
  // 0–1000 ms: one request all along; a second from 500 to 1000; the user function busy 250–750.
  const a = m.requestStarted();
  clock.advance(250);
  m.userFunctionStarted();
  clock.advance(250);
  const b = m.requestStarted();
  clock.advance(250);
  m.userFunctionEnded();
  clock.advance(250);
  m.requestEnded(b);
  const first = m.sample();
  t.same(first, { intervalMs: 1000, requestConcurrency: 1.5, userFunctionConcurrency: 0.5, databaseConcurrency: 0, requestCount: 2, requestsEnded: 1, requestTimeMs: 500, version: '1.0' });
  // 1000–3000 ms: the first request still open until 2000; two database operations of 100 ms.
  m.databaseStarted();
  clock.advance(100);
  m.databaseEnded();
  clock.advance(900);
  m.requestEnded(a);
  m.databaseStarted();
  clock.advance(100);
  m.databaseEnded();
  clock.advance(900);
  const second = m.sample();
  t.equal(second.intervalMs, 2000);
  t.equal(second.requestConcurrency, 0.5, 'open for half the interval');
  t.equal(second.databaseConcurrency, 0.1);
  t.equal(second.requestCount, 0, 'requests count where they started');
  t.equal(second.requestsEnded, 1);
  t.equal(second.requestTimeMs, 2000);
  t.same(m.inProgress, { requests: 0, userFunction: 0, database: 0 });
  m.requestEnded();
  t.equal(m.inProgress.requests, 0, 'an extra end never makes a count negative');
  clock.advance(1000);
  t.match(m.sample(), { intervalMs: 1000, requestConcurrency: 0 });
});

t.test('recorder: a million calls on the hot path are all counted, and none is left in progress', async (t) => {
  // (Whether the hot path allocates is not asserted here: neither heap growth nor collection
  // counts measured it reliably in a test process; the benchmark profile is where to look.)
  const clock = new ManualScheduler();
  const m = new MetricsRecorder({ clock });
  for (let i = 0; i < 1_000_000; i++) {
    const s = m.requestStarted();
    m.userFunctionStarted();
    m.userFunctionEnded();
    m.requestEnded(s);
  }
  await clock.advance(1000);
  const report = m.sample();
  t.equal(report.requestCount, 1_000_000);
  t.equal(report.requestsEnded, 1_000_000);
  t.equal(report.requestConcurrency, 0, 'nothing in progress over the interval (every call ended at once on the manual clock)');
  t.equal(report.userFunctionConcurrency, 0);
});

const report = (r: Partial<MetricsReport>): MetricsReport => ({
  intervalMs: 1000,
  requestConcurrency: 0,
  userFunctionConcurrency: 0,
  databaseConcurrency: 0,
  requestCount: 0,
  requestsEnded: 0,
  requestTimeMs: 0,
  ...r,
});

t.test('load window: averages per node, rate summed, old reports expire', async (t) => {
  const s = resolveSettings({ targetConcurrencyWindowMs: 10_000, requestRateWindowMs: 3_000 });
  const w = new LoadWindow();
  // a: 10 reports, 1 s each, uf 1, 10 requests each; b: 5 reports of uf 3, 20 requests each.
  for (let i = 1; i <= 10; i++) w.record('a', report({ userFunctionConcurrency: 1, requestConcurrency: 2, requestCount: 10, requestsEnded: 10, requestTimeMs: 100 }), i * 1000);
  for (let i = 6; i <= 10; i++) w.record('b', report({ userFunctionConcurrency: 3, requestConcurrency: 4, databaseConcurrency: 1, requestCount: 20 }), i * 1000);
  const l = w.summarize(['a', 'b'], 10_000, s);
  t.equal(l.members, 2);
  t.equal(l.userFunctionConcurrency, (10 * 1 + 5 * 3) / 15, 'weighted by time reported');
  t.equal(l.requestConcurrency, (10 * 2 + 5 * 4) / 15);
  t.equal(l.databaseConcurrency, 5 / 15);
  t.equal(l.requestRate, 10 + 20, 'per-member rates over the rate window, summed');
  t.equal(l.requestLatencyMs, 10);
  t.equal(l.upgrading, false);
  t.ok(w.hasReportFrom('b'));
  const later = w.summarize(['a', 'b'], 15_500, s);
  t.equal(later.userFunctionConcurrency, (5 * 1 + 5 * 3) / 10, 'reports older than the window are gone');
  t.equal(later.requestRate, 0, 'nothing in the rate window');
  w.retainOnly(new Set(['b']));
  t.notOk(w.hasReportFrom('a'), 'a member no longer up is forgotten');
  t.equal(w.summarize(['a', 'b'], 15_500, s).userFunctionConcurrency, 3);
  w.expireBefore(100_000);
  t.notOk(w.hasReportFrom('b'));
  t.match(w.summarize(['b'], 100_000, s), { members: 1, userFunctionConcurrency: 0, requestRate: 0 }, 'no reports: zero load');
});

t.test('load window: an upgrade is two versions, or the platform saying so', async (t) => {
  const s = resolveSettings();
  const w = new LoadWindow();
  w.record('a', report({ version: '1' }), 1000);
  w.record('b', report({ version: '1' }), 1000);
  t.equal(w.summarize(['a', 'b'], 1000, s).upgrading, false);
  t.equal(w.summarize(['a', 'b'], 1000, s, true).upgrading, true, 'the platform says so');
  w.record('b', report({ version: '2' }), 2000);
  t.equal(w.summarize(['a', 'b'], 2000, s).upgrading, true, 'the latest reports differ');
});

t.test('settings: reference defaults, environment, validation', async (t) => {
  t.match(defaultAutoscalerSettings, {
    targetUserFunctionConcurrency: 1,
    targetRequestConcurrency: 50,
    targetConcurrencyWindowMs: 60_000,
    scaleUpStableDeadlineMs: 180_000,
    scaleDownStableDeadlineMs: 30_000,
    requestRateThresholdFactor: 1.5,
    requestRateWindowMs: 6_000,
    maxScaleFactor: 0,
    maxScale: 2,
    maxMembers: 100,
    tickPeriodMs: 2_000,
  });
  t.same([parseDuration('500ms'), parseDuration('6s'), parseDuration('1m'), parseDuration('3min'), parseDuration('1.5s'), parseDuration('250')], [500, 6000, 60_000, 180_000, 1500, 250]);
  t.throws(() => parseDuration('soon'), { code: 'ERR_AUTOSCALER_SETTINGS' });
  const s = autoscalerSettingsFromEnv({ USER_FUNCTION_TARGET_CONCURRENCY: '4', SCALE_UP_STABLE_DEADLINE: '2m', REQUEST_RATE_WINDOW: '10s', MAX_MEMBERS: '7', UNRELATED: 'x' });
  t.match(s, { targetUserFunctionConcurrency: 4, scaleUpStableDeadlineMs: 120_000, requestRateWindowMs: 10_000, maxMembers: 7, targetRequestConcurrency: 50 });
  t.equal(autoscalerEnabled({ AUTOSCALER_ENABLED: 'true' }), true);
  t.equal(autoscalerEnabled({}), false, 'off by default, as in the reference');
  for (const [overrides, name] of [
    [{ targetUserFunctionConcurrency: 0 }, 'targetUserFunctionConcurrency'],
    [{ requestRateThresholdFactor: 1 }, 'requestRateThresholdFactor'],
    [{ minMembers: 3, maxMembers: 2 }, 'maxMembers'],
    [{ minMembers: 0 }, 'minMembers'],
  ] as const) {
    t.throws(() => resolveSettings(overrides), new RegExp(name), `${name} rejected`);
  }
  try {
    autoscalerSettingsFromEnv({ MAX_SCALE: 'two' });
    t.fail('a non-number is rejected');
  } catch (err) {
    t.ok(hasCode(err, 'ERR_AUTOSCALER_SETTINGS'), 'with the settings code');
    t.match((err as Error).message, /MAX_SCALE/);
  }
});
