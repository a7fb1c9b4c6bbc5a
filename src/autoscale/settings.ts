/**
 * The autoscaler's settings: each one documented with its default, which is the Cloudstate
 * reference proxy's (`cloudstate.proxy.autoscaler` in its reference.conf) unless marked as
 * ours; the environment variables the reference reads; and the validation that rejects a
 * setting that would make the decisions meaningless. Pure: no clock, no I/O.
 */
import { CloudstateError } from '../core/index.js';

/** How the autoscaler decides. Durations are in milliseconds. */
export interface AutoscalerSettings {
  /**
   * Average user-function concurrency per node above which the cluster scales up (default 1:
   * a user function busy with one call at all times, on average). `USER_FUNCTION_TARGET_CONCURRENCY`.
   */
  targetUserFunctionConcurrency: number;
  /**
   * Average request concurrency per node, less database concurrency, above which the cluster
   * scales up (default 50). High on purpose: with one node no request is forwarded, so request
   * concurrency stays low; it grows with the number of nodes as sharding forwards more.
   * `REQUEST_TARGET_CONCURRENCY`.
   */
  targetRequestConcurrency: number;
  /** The sliding window over which concurrency is averaged (default 1 min). `TARGET_CONCURRENCY_WINDOW`. */
  targetConcurrencyWindowMs: number;
  /**
   * After scaling up, no decision is taken on concurrency for this long (default 3 min): new
   * nodes join, shards rebalance to them and they warm up, and concurrency spikes meanwhile.
   * `SCALE_UP_STABLE_DEADLINE`.
   */
  scaleUpStableDeadlineMs: number;
  /** After scaling down, no decision is taken on concurrency for this long (default 30 s). `SCALE_DOWN_STABLE_DEADLINE`. */
  scaleDownStableDeadlineMs: number;
  /**
   * During the stable period after scaling up, or during an upgrade, a request rate this many
   * times the rate at the decision scales up further, in proportion (default 1.5).
   * `REQUEST_RATE_THRESHOLD_FACTOR`.
   */
  requestRateThresholdFactor: number;
  /**
   * The window over which the request rate is measured (default 6 s); when a stable period
   * ends, only this much of the concurrency history is kept. `REQUEST_RATE_WINDOW` (ours: the
   * reference's file wires this setting to the threshold-factor variable by mistake).
   */
  requestRateWindowMs: number;
  /**
   * At most this fraction of the current members added or removed in one decision, at least
   * one (default 0: no limit). `MAX_SCALE_FACTOR` (ours).
   */
  maxScaleFactor: number;
  /** At most this many members added or removed in one decision (default 2; 0: no limit). `MAX_SCALE` (ours). */
  maxScale: number;
  /** Never more members than this (default 100). `MAX_MEMBERS` (ours). */
  maxMembers: number;
  /** Never fewer members than this (default 1; ours: the reference has no floor but 1). `MIN_MEMBERS`. */
  minMembers: number;
  /**
   * Scaling down needs the load to fit in fewer nodes at this fraction of each target (default
   * 0.6; ours: the reference uses 1). Concurrency grows faster than the load per node when calls
   * queue (a user function at 50% busy has a concurrency of 1 as a single queue, at 67% of 2),
   * so removing a node at exactly the target overloads the rest and the cluster flaps; 0.6 is
   * the largest fraction with which no count flaps under that queueing model (2 → 1 is the worst
   * case, needing ≤ ⅔). `SCALE_DOWN_TARGET_FACTOR`.
   */
  scaleDownTargetFactor: number;
  /** How often the autoscaler decides (default 2 s). `AUTOSCALER_TICK_PERIOD` (ours). */
  tickPeriodMs: number;
  /**
   * How often each node sends its metrics to the autoscaler (default 1 s; ours: the reference's
   * nodes report continuously through Akka). `AUTOSCALER_REPORT_INTERVAL`.
   */
  reportIntervalMs: number;
}

/** The reference proxy's defaults (and ours where it has none). */
export const defaultAutoscalerSettings: Readonly<AutoscalerSettings> = Object.freeze({
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
  minMembers: 1,
  scaleDownTargetFactor: 0.6,
  tickPeriodMs: 2_000,
  reportIntervalMs: 1_000,
});

/** Each setting's environment variable, and whether it is a duration. */
const ENV: Record<keyof AutoscalerSettings, [string, 'number' | 'duration']> = {
  targetUserFunctionConcurrency: ['USER_FUNCTION_TARGET_CONCURRENCY', 'number'],
  targetRequestConcurrency: ['REQUEST_TARGET_CONCURRENCY', 'number'],
  targetConcurrencyWindowMs: ['TARGET_CONCURRENCY_WINDOW', 'duration'],
  scaleUpStableDeadlineMs: ['SCALE_UP_STABLE_DEADLINE', 'duration'],
  scaleDownStableDeadlineMs: ['SCALE_DOWN_STABLE_DEADLINE', 'duration'],
  requestRateThresholdFactor: ['REQUEST_RATE_THRESHOLD_FACTOR', 'number'],
  requestRateWindowMs: ['REQUEST_RATE_WINDOW', 'duration'],
  maxScaleFactor: ['MAX_SCALE_FACTOR', 'number'],
  maxScale: ['MAX_SCALE', 'number'],
  maxMembers: ['MAX_MEMBERS', 'number'],
  minMembers: ['MIN_MEMBERS', 'number'],
  scaleDownTargetFactor: ['SCALE_DOWN_TARGET_FACTOR', 'number'],
  tickPeriodMs: ['AUTOSCALER_TICK_PERIOD', 'duration'],
  reportIntervalMs: ['AUTOSCALER_REPORT_INTERVAL', 'duration'],
};

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/**
 * Parses a duration as the reference's HOCON files write them (`500ms`, `6s`, `1m`, `3min`,
 * `1h`); a bare number is milliseconds. Throws `ERR_AUTOSCALER_SETTINGS` on anything else.
 */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/.exec(text);
  if (!m) throw new CloudstateError('ERR_AUTOSCALER_SETTINGS', `not a duration: ${JSON.stringify(text)} (expected e.g. 500ms, 6s, 1m)`);
  return Number(m[1]) * UNITS[m[2] ?? 'ms']!;
}

/** True when `AUTOSCALER_ENABLED` is `true` (or `1`, `yes`, `on`); the reference's default is off. */
export function autoscalerEnabled(env: Record<string, string | undefined> = process.env): boolean {
  return /^(true|1|yes|on)$/i.test(env.AUTOSCALER_ENABLED ?? '');
}

/** Settings from the environment variables above, over `base` (default: the defaults), validated. */
export function autoscalerSettingsFromEnv(env: Record<string, string | undefined> = process.env, base: Partial<AutoscalerSettings> = {}): AutoscalerSettings {
  const out: AutoscalerSettings = { ...defaultAutoscalerSettings, ...base };
  for (const [key, [name, kind]] of Object.entries(ENV) as [keyof AutoscalerSettings, [string, string]][]) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    const value = kind === 'duration' ? parseDuration(raw) : Number(raw);
    if (!Number.isFinite(value)) throw new CloudstateError('ERR_AUTOSCALER_SETTINGS', `${name}=${JSON.stringify(raw)} is not a number`);
    out[key] = value;
  }
  return validateSettings(out);
}

/** The defaults with `overrides`, validated: throws `ERR_AUTOSCALER_SETTINGS` naming the first bad setting. */
export function resolveSettings(overrides: Partial<AutoscalerSettings> = {}): AutoscalerSettings {
  return validateSettings({ ...defaultAutoscalerSettings, ...overrides });
}

function validateSettings(s: AutoscalerSettings): AutoscalerSettings {
  const positive: (keyof AutoscalerSettings)[] = ['targetUserFunctionConcurrency', 'targetRequestConcurrency', 'targetConcurrencyWindowMs', 'requestRateWindowMs', 'tickPeriodMs', 'reportIntervalMs'];
  for (const key of positive) if (!(s[key] > 0)) throw bad(key, s[key], 'must be > 0');
  for (const key of ['scaleUpStableDeadlineMs', 'scaleDownStableDeadlineMs', 'maxScaleFactor', 'maxScale'] as const) if (!(s[key] >= 0)) throw bad(key, s[key], 'must be >= 0');
  if (!(s.scaleDownTargetFactor > 0 && s.scaleDownTargetFactor <= 1)) throw bad('scaleDownTargetFactor', s.scaleDownTargetFactor, 'must be in (0, 1]');
  if (!(s.requestRateThresholdFactor > 1)) throw bad('requestRateThresholdFactor', s.requestRateThresholdFactor, 'must be > 1');
  if (!Number.isInteger(s.minMembers) || s.minMembers < 1) throw bad('minMembers', s.minMembers, 'must be an integer >= 1');
  if (!Number.isInteger(s.maxMembers) || s.maxMembers < s.minMembers) throw bad('maxMembers', s.maxMembers, `must be an integer >= minMembers (${s.minMembers})`);
  if (!Number.isInteger(s.maxScale)) throw bad('maxScale', s.maxScale, 'must be an integer');
  return s;
}

const bad = (key: string, value: number, why: string) => new CloudstateError('ERR_AUTOSCALER_SETTINGS', `autoscaler setting ${key}=${value} ${why}`);
