/**
 * `Autoscaler`: the behaviour that runs as the cluster singleton. It keeps the latest reports
 * of the up members (./load.ts), and every tick summarizes them, calls `decide` (./decide.ts),
 * logs what it decided in one line, asks the `Scaler` to carry it out and updates its own
 * metrics. It owns the tick, the scaler calls and the retry of a failed call; the decisions
 * themselves are `decide`'s.
 *
 * Each report is answered with the current state, so every node knows it and a new host
 * (after a hand-over) carries on where the old one stopped instead of starting blind.
 * A host with no history waits until every up member has reported and it has listened for
 * one request-rate window before its first decision.
 */
import { describeError, silentLogger, systemClock, systemScheduler } from '../core/index.js';
import type { Cancellable, Clock, Logger, Scheduler } from '../core/index.js';
import type { SingletonBehavior } from '../cluster/index.js';
import { decide, stableState } from './decide.js';
import type { AutoscalerState, ScalingDecision } from './decide.js';
import { LoadWindow } from './load.js';
import type { ClusterLoad } from './load.js';
import type { MetricsReport } from './metrics.js';
import type { AutoscalerPrometheus } from './prometheus.js';
import type { Scaler, ScalerStatus } from './scaler.js';
import type { AutoscalerSettings } from './settings.js';

/** What nodes send to the autoscaler singleton. */
export type AutoscalerMessage = { readonly type: 'report'; readonly report: MetricsReport };
/** Its answer: the state it is in (so every node can hand it on). */
export interface AutoscalerReply {
  readonly state: AutoscalerState;
}

export interface AutoscalerOptions {
  settings: AutoscalerSettings;
  scaler: Scaler;
  /** Ids of the members being scaled that are up now (they must report). */
  members: () => readonly string[];
  /** Where to carry on from (the last state a node heard of); default stable, with no history. */
  initialState?: AutoscalerState;
  /** How often to read the scaler's `status()`, ms (default 20 s, as the reference polls its Deployment). */
  statusIntervalMs?: number;
  metrics?: AutoscalerPrometheus;
  clock?: Clock;
  scheduler?: Scheduler;
  logger?: Logger;
}

export class Autoscaler implements SingletonBehavior<AutoscalerMessage, AutoscalerReply> {
  private readonly window = new LoadWindow();
  private readonly settings: AutoscalerSettings;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly timer: Cancellable;
  private readonly startedAt: number;
  private stateNow: AutoscalerState;
  private platform: ScalerStatus | undefined;
  private lastStatusAt = -Infinity;
  /** A count the scaler has not accepted yet (its call failed): asked again every tick. */
  private unapplied: number | undefined;
  private ticking = false;
  private stopped = false;
  private lastLoad: ClusterLoad | undefined;

  constructor(private readonly options: AutoscalerOptions) {
    this.settings = options.settings;
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ component: 'autoscaler' });
    this.stateNow = options.initialState ?? stableState;
    this.startedAt = this.clock.now();
    const scheduler = options.scheduler ?? systemScheduler;
    this.timer = scheduler.scheduleRepeatedly(this.settings.tickPeriodMs, this.settings.tickPeriodMs, () => void this.tick());
    this.log.info({ state: this.stateNow }, 'autoscaler started');
  }

  /** The state now. */
  get state(): AutoscalerState {
    return this.stateNow;
  }

  /** The load the last tick saw, if any. */
  get load(): ClusterLoad | undefined {
    return this.lastLoad;
  }

  /** A node's report: kept, answered with the state. */
  receive(message: AutoscalerMessage, from: string): AutoscalerReply {
    if (message?.type === 'report' && message.report && typeof message.report.intervalMs === 'number') {
      this.window.record(from, message.report, this.clock.now());
    } else {
      this.log.warn({ from }, 'dropped a malformed autoscaler message');
    }
    return { state: this.stateNow };
  }

  /** One round: summarize, decide, scale. Runs on the timer; public for tests. Overlapping calls are skipped. */
  async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      await this.round();
    } catch (err) {
      this.log.error({ err: describeError(err) }, 'autoscaler round failed');
    } finally {
      this.ticking = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer.cancel();
    this.options.metrics?.unregister();
    this.log.info({ state: this.stateNow }, 'autoscaler stopped on this node');
  }

  private async round(): Promise<void> {
    const now = this.clock.now();
    const ids = this.options.members();
    this.window.retainOnly(new Set(ids));
    await this.readStatus(now);
    const load = this.window.summarize(ids, now, this.settings, this.platform?.upgrading ?? false);
    this.lastLoad = load;
    this.exportLoad(load);
    if (this.stateNow.kind === 'stable') {
      const silent = ids.filter((id) => !this.window.hasReportFrom(id));
      if (silent.length > 0 || now - this.startedAt < this.settings.requestRateWindowMs) {
        this.log.debug({ silent }, 'waiting for reports from every member');
        return;
      }
    }
    this.log.debug(load, 'cluster load');
    const out = decide(this.stateNow, load, now, this.settings);
    if (out.expireBefore !== undefined) this.window.expireBefore(out.expireBefore);
    if (out.note) this.log.info({ state: out.state.kind }, out.note);
    this.stateNow = out.state;
    if (out.decision) {
      this.announce(out.decision, load);
      await this.apply(out.decision.to);
    } else if (this.unapplied !== undefined || this.platformDisagrees()) {
      const desired = 'desired' in this.stateNow ? this.stateNow.desired : undefined;
      if (desired !== undefined) await this.apply(desired);
      else this.unapplied = undefined;
    }
    const desired = 'desired' in this.stateNow ? this.stateNow.desired : load.members;
    this.options.metrics?.desiredMembers.set(desired);
  }

  /** The one log line of a decision: why, from → to. */
  private announce(d: ScalingDecision, load: ClusterLoad): void {
    this.options.metrics?.decisions.inc({ direction: d.direction, reason: d.reason });
    const fields = {
      decision: d.direction,
      from: d.from,
      to: d.to,
      reason: d.reason,
      members: load.members,
      userFunctionConcurrency: round(load.userFunctionConcurrency),
      requestConcurrency: round(load.requestConcurrency),
      databaseConcurrency: round(load.databaseConcurrency),
      requestRate: round(load.requestRate),
    };
    this.log.info(fields, `scaling ${d.direction} from ${d.from} to ${d.to}: ${d.message}`);
  }

  private async apply(members: number): Promise<void> {
    try {
      await this.options.scaler.scale(members);
      this.unapplied = undefined;
      // The platform has it now; the next status poll says whether that held.
      if (this.platform) this.platform = { ...this.platform, desired: members };
    } catch (err) {
      this.unapplied = members;
      this.log.warn({ members, err: describeError(err) }, 'scaler failed; asking again next tick');
    }
  }

  /** The platform was asked for something else than we want (someone changed it, or a call was lost). */
  private platformDisagrees(): boolean {
    return this.platform !== undefined && 'desired' in this.stateNow && this.platform.desired !== this.stateNow.desired && this.stateNow.kind !== 'upgrading';
  }

  private async readStatus(now: number): Promise<void> {
    const status = this.options.scaler.status;
    if (!status || now - this.lastStatusAt < (this.options.statusIntervalMs ?? 20_000)) return;
    this.lastStatusAt = now;
    try {
      this.platform = await status.call(this.options.scaler);
    } catch (err) {
      this.log.warn({ err: describeError(err) }, 'could not read the platform status');
    }
  }

  private exportLoad(load: ClusterLoad): void {
    const m = this.options.metrics;
    if (!m) return;
    m.currentMembers.set(load.members);
    m.userFunctionConcurrency.set(load.userFunctionConcurrency);
    m.requestConcurrency.set(load.requestConcurrency);
    m.requestRate.set(load.requestRate);
  }
}

const round = (x: number) => Math.round(x * 100) / 100;
