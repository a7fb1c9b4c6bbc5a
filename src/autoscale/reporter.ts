/**
 * `MetricsReporter`: on every node being scaled, closes a `MetricsRecorder` interval every
 * `reportIntervalMs` and sends the report to the autoscaler singleton, and keeps the state the
 * autoscaler answers with (a new host starts from it). One report is in flight at a time: while
 * the singleton is unreachable or moving, no interval is closed, so the next report covers the
 * whole gap instead of a queue of stale ones piling up. It owns the sending and nothing else.
 */
import { describeError, silentLogger } from '../core/index.js';
import type { Cancellable, Logger, Scheduler } from '../core/index.js';
import type { AutoscalerState } from './decide.js';
import type { AutoscalerMessage, AutoscalerReply } from './autoscaler.js';
import type { MetricsRecorder } from './metrics.js';

export interface MetricsReporterOptions {
  recorder: MetricsRecorder;
  /** Delivers a message to the autoscaler singleton and resolves with its answer. */
  send: (message: AutoscalerMessage) => Promise<AutoscalerReply | undefined>;
  intervalMs: number;
  scheduler: Scheduler;
  logger?: Logger;
}

export class MetricsReporter {
  private readonly timer: Cancellable;
  private inFlight = false;
  private lastState: AutoscalerState | undefined;
  private failures = 0;
  private readonly log: Logger;

  constructor(private readonly options: MetricsReporterOptions) {
    this.log = options.logger ?? silentLogger;
    this.timer = options.scheduler.scheduleRepeatedly(options.intervalMs, options.intervalMs, () => void this.report());
  }

  /** The autoscaler's state in its latest answer, if any. */
  get knownState(): AutoscalerState | undefined {
    return this.lastState;
  }

  /** Sends one report now (unless one is in flight). Runs on the timer; public for tests. */
  async report(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      const reply = await this.options.send({ type: 'report', report: this.options.recorder.sample() });
      if (reply && typeof reply === 'object' && reply.state) this.lastState = reply.state;
      if (this.failures > 0) this.log.debug({ failures: this.failures }, 'autoscaler reachable again');
      this.failures = 0;
    } catch (err) {
      // The singleton is moving or not up yet; the report is lost, the next one goes on.
      if (this.failures++ === 0) this.log.debug({ err: describeError(err) }, 'could not report metrics to the autoscaler');
    } finally {
      this.inFlight = false;
    }
  }

  stop(): void {
    this.timer.cancel();
  }
}
