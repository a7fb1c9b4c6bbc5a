/**
 * The autoscaler's decisions, as a pure function of (state, load, now, settings), after the
 * Cloudstate design: starting a node is not free (shards rebalance to it, it warms up), so a
 * decision is followed by a stable period in which concurrency, which spikes while the
 * cluster settles, triggers nothing.
 *
 * ```
 *            ┌──── uf or request concurrency over target ───► scaling-up ──┐ deadline (3 min):
 *            │                                                  │  ▲       │ drop old samples
 *   stable ◄─┼──── both fit in fewer nodes ─────► scaling-down  │  └ rate ×1.5 over the rate at
 *     ▲      │                                      │ deadline   │    the decision (and still
 *     │      └──── upgrade rolling out ──► upgrading │ (30 s)    │    over target): more nodes
 *     └──────────── upgrade over ◄────────┘ (rate ×1.5: more nodes)
 * ```
 *
 * Desired members for a metric = ⌈average per node × members ÷ target⌉: the load, spread over
 * nodes at the target. Scaling up needs a metric over its target; scaling down needs both
 * metrics to fit in fewer nodes at `scaleDownTargetFactor` × their targets (a hysteresis the
 * reference lacks: without it a load near a boundary flaps, see ./settings.ts). Every decision is capped: by `maxScale` and `maxScaleFactor`
 * per decision, and by `minMembers`/`maxMembers`. Request concurrency counts without database
 * concurrency, so a slow database does not add nodes that would only load it further.
 *
 * During the stable period after scaling up, load can keep rising; the request rate, unlike
 * concurrency, is not inflated by the settling cluster, so a rate `requestRateThresholdFactor`
 * times the rate at the decision adds nodes in proportion (and becomes the new reference).
 * After scaling down there is no such rule (the rate may be near zero, which says nothing of
 * the nodes needed); the period is short instead. During an upgrade (members run different
 * versions) concurrency is meaningless, so only the request rate scales up, in proportion to
 * the rate when the upgrade began. Deviation from the reference: an upgrade is noticed before
 * concurrency in the stable state, so a rollout's spike never scales the cluster.
 *
 * The state is a JSON value with wall-clock deadlines, so a new autoscaler host can take it over.
 */
import type { ClusterLoad } from './load.js';
import type { AutoscalerSettings } from './settings.js';

export type AutoscalerState =
  | { readonly kind: 'stable' }
  | {
      readonly kind: 'scaling-up';
      /** Members asked of the platform. */
      readonly desired: number;
      /** Wall-clock ms at which concurrency counts again. */
      readonly deadline: number;
      /** Desired members and request rate (per s, whole cluster) the further rate rule is relative to. */
      readonly anchorDesired: number;
      readonly anchorRate: number;
    }
  | { readonly kind: 'scaling-down'; readonly desired: number; readonly deadline: number }
  | { readonly kind: 'upgrading'; readonly desired: number; readonly anchorDesired: number; readonly anchorRate: number };

/** Why the cluster is resized. */
export type DecisionReason = 'user-function-concurrency' | 'request-concurrency' | 'request-rate' | 'capacity-to-spare' | 'member-bounds';

/** One request to resize the cluster. */
export interface ScalingDecision {
  readonly direction: 'up' | 'down';
  /** Members before: up members for a decision from the stable state, the previous desired count otherwise. */
  readonly from: number;
  /** Members wanted. */
  readonly to: number;
  readonly reason: DecisionReason;
  /** One line for the log: the metric, its value and target. */
  readonly message: string;
}

export interface DecideOutcome {
  readonly state: AutoscalerState;
  readonly decision?: ScalingDecision;
  /**
   * A stable period ended: the caller drops reports received before this time, since the
   * concurrency they show is that of a cluster that was still settling.
   */
  readonly expireBefore?: number;
  /** A change of state with no resize (stable period over, upgrade began or ended), for the log. */
  readonly note?: string;
}

/** The state an autoscaler with no history starts in. */
export const stableState: AutoscalerState = Object.freeze({ kind: 'stable' });

/** Decides what to do at `now` (wall-clock ms) given the cluster's load. Pure. */
export function decide(state: AutoscalerState, load: ClusterLoad, now: number, settings: AutoscalerSettings): DecideOutcome {
  switch (state.kind) {
    case 'stable':
      return decideStable(load, now, settings);
    case 'scaling-up': {
      if (now >= state.deadline) return stableAgain(now, settings, `stable period after scaling up to ${state.desired} is over`);
      if (!overTarget(load, settings)) return { state };
      const more = rateRule(state.desired, state.anchorDesired, state.anchorRate, load, settings);
      if (!more) return { state };
      return {
        state: { kind: 'scaling-up', desired: more.to, deadline: now + settings.scaleUpStableDeadlineMs, anchorDesired: more.to, anchorRate: load.requestRate },
        decision: more,
      };
    }
    case 'scaling-down':
      if (now >= state.deadline) return stableAgain(now, settings, `stable period after scaling down to ${state.desired} is over`);
      return { state };
    case 'upgrading': {
      if (!load.upgrading) return stableAgain(now, settings, 'upgrade finished');
      const more = rateRule(state.desired, state.anchorDesired, state.anchorRate, load, settings);
      if (!more) return { state };
      return { state: { kind: 'upgrading', desired: more.to, anchorDesired: more.to, anchorRate: load.requestRate }, decision: more };
    }
  }
}

function decideStable(load: ClusterLoad, now: number, s: AutoscalerSettings): DecideOutcome {
  const m = load.members;
  if (m < s.minMembers || m > s.maxMembers) {
    const to = Math.min(s.maxMembers, Math.max(s.minMembers, m));
    const direction = to > m ? 'up' : 'down';
    const message = `${m} members, outside the bounds [${s.minMembers}, ${s.maxMembers}]`;
    // Not a judgement of the load: the short stable period only keeps it from repeating each tick.
    const out = scaled(direction, m, to, 'member-bounds', message, now, load, s);
    return { ...out, state: { ...out.state, deadline: now + s.scaleDownStableDeadlineMs } as AutoscalerState };
  }
  if (load.upgrading) {
    return { state: { kind: 'upgrading', desired: m, anchorDesired: m, anchorRate: load.requestRate }, note: `upgrade in progress: scaling on request rate only (${fmt(load.requestRate)}/s now)` };
  }
  const uf = load.userFunctionConcurrency;
  const req = adjustedRequestConcurrency(load);
  const forUserFunction = nodesFor(uf * m, s.targetUserFunctionConcurrency);
  const forRequests = nodesFor(req * m, s.targetRequestConcurrency);
  if (uf > s.targetUserFunctionConcurrency) {
    const to = cap(forUserFunction, m, s);
    const message = `user-function concurrency ${fmt(uf)} per node exceeds target ${s.targetUserFunctionConcurrency}`;
    if (to > m) return scaled('up', m, to, 'user-function-concurrency', message, now, load, s);
  } else if (req > s.targetRequestConcurrency) {
    const to = cap(forRequests, m, s);
    const message = `request concurrency ${fmt(req)} per node (database excluded) exceeds target ${s.targetRequestConcurrency}`;
    if (to > m) return scaled('up', m, to, 'request-concurrency', message, now, load, s);
  } else {
    const f = s.scaleDownTargetFactor;
    const downForUserFunction = nodesFor(uf * m, s.targetUserFunctionConcurrency * f);
    const downForRequests = nodesFor(req * m, s.targetRequestConcurrency * f);
    const to = cap(Math.max(downForUserFunction, downForRequests), m, s);
    const at = f === 1 ? 'at target' : `at ${f} × target`;
    const message = `user-function concurrency ${fmt(uf)} fits ${downForUserFunction} and request concurrency ${fmt(req)} fits ${downForRequests} node(s) ${at}`;
    if (to < m) return scaled('down', m, to, 'capacity-to-spare', message, now, load, s);
  }
  return { state: stableState };
}

function scaled(direction: 'up' | 'down', from: number, to: number, reason: DecisionReason, message: string, now: number, load: ClusterLoad, s: AutoscalerSettings): DecideOutcome {
  const state: AutoscalerState =
    direction === 'up'
      ? { kind: 'scaling-up', desired: to, deadline: now + s.scaleUpStableDeadlineMs, anchorDesired: to, anchorRate: load.requestRate }
      : { kind: 'scaling-down', desired: to, deadline: now + s.scaleDownStableDeadlineMs };
  return { state, decision: { direction, from, to, reason, message } };
}

function stableAgain(now: number, s: AutoscalerSettings, note: string): DecideOutcome {
  return { state: stableState, expireBefore: now - s.requestRateWindowMs, note };
}

/**
 * The request-rate rule: a rate over `factor` × the anchor rate wants nodes in proportion to
 * the rate (`anchorDesired` nodes were judged right for `anchorRate`). Only ever up.
 */
function rateRule(desired: number, anchorDesired: number, anchorRate: number, load: ClusterLoad, s: AutoscalerSettings): ScalingDecision | undefined {
  if (!(anchorRate > 0) || !(load.requestRate > anchorRate * s.requestRateThresholdFactor)) return undefined;
  const to = cap(nodesFor(anchorDesired * load.requestRate, anchorRate), desired, s);
  if (to <= desired) return undefined;
  const message = `request rate ${fmt(load.requestRate)}/s exceeds ${s.requestRateThresholdFactor} × ${fmt(anchorRate)}/s, the rate when ${anchorDesired} member(s) were decided`;
  return { direction: 'up', from: desired, to, reason: 'request-rate', message };
}

/** Whether either metric is over its target (the reference's guard on the rate rule after scaling up). */
function overTarget(load: ClusterLoad, s: AutoscalerSettings): boolean {
  return load.userFunctionConcurrency > s.targetUserFunctionConcurrency || adjustedRequestConcurrency(load) > s.targetRequestConcurrency;
}

/** Request concurrency without the time spent waiting on the database. */
export function adjustedRequestConcurrency(load: ClusterLoad): number {
  return Math.max(0, load.requestConcurrency - load.databaseConcurrency);
}

/** ⌈total ÷ target⌉, at least 1; a hair of floating-point error does not add a node. */
export function nodesFor(total: number, target: number): number {
  return Math.max(1, Math.ceil(total / target - 1e-9));
}

/**
 * `desired` moved towards it from `base` by at most `maxScale` members and `maxScaleFactor` ×
 * `base` (at least one) per decision (0 disables either), within [minMembers, maxMembers].
 */
export function cap(desired: number, base: number, s: AutoscalerSettings): number {
  let change = Math.abs(desired - base);
  if (s.maxScaleFactor > 0) change = Math.min(change, Math.max(1, Math.floor(base * s.maxScaleFactor)));
  if (s.maxScale > 0) change = Math.min(change, s.maxScale);
  const to = desired >= base ? base + change : base - change;
  return Math.min(s.maxMembers, Math.max(s.minMembers, to));
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
