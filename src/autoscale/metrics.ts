/**
 * What one node measures for the autoscaler: how many requests, user-function calls and
 * database operations are in progress, averaged over time, and how many requests arrived.
 * `MetricsRecorder` is called on the hot path (each request, each call to the user function,
 * each journal write), so a call is a clock read and a few number updates, with no allocation;
 * `sample()` closes an interval and returns its `MetricsReport`, which the reporter
 * (./reporter.ts) sends to the autoscaler. This module does not send anything.
 *
 * Concurrency over an interval is the time-weighted average of the number in progress: the
 * integral of the count over time, divided by the interval. A request that takes 10 ms within
 * a 1 s interval adds 0.01.
 */
import { systemClock } from '../core/index.js';
import type { Clock } from '../core/index.js';

/** One node's measurements over one interval; a JSON value (it travels between nodes). */
export interface MetricsReport {
  /** Length of the interval, ms. */
  intervalMs: number;
  /** Average number of requests in progress on this node (ingress to reply, forwards included). */
  requestConcurrency: number;
  /** Average number of calls in progress in the user function. */
  userFunctionConcurrency: number;
  /** Average number of database operations in progress. */
  databaseConcurrency: number;
  /** Requests that started in the interval. */
  requestCount: number;
  /** Requests that ended in the interval, and their total time, ms (for latency in logs). */
  requestsEnded: number;
  requestTimeMs: number;
  /** The node's software version, if known: members reporting different versions mean an upgrade is rolling out. */
  version?: string;
}

/** Time-weighted count of things in progress. Numbers only: no allocation per call. */
class Concurrency {
  active = 0;
  /** ∫ active dt since the interval began, ms. */
  private area = 0;
  private last: number;
  started = 0;
  ended = 0;

  constructor(now: number) {
    this.last = now;
  }

  start(now: number): void {
    this.area += this.active * (now - this.last);
    this.last = now;
    this.active++;
    this.started++;
  }

  end(now: number): void {
    this.area += this.active * (now - this.last);
    this.last = now;
    if (this.active > 0) this.active--;
    this.ended++;
  }

  /** Closes the interval at `now`: the area so far, then starts a new one. */
  take(now: number): { area: number; started: number; ended: number } {
    const area = this.area + this.active * (now - this.last);
    const out = { area, started: this.started, ended: this.ended };
    this.area = 0;
    this.last = now;
    this.started = 0;
    this.ended = 0;
    return out;
  }
}

/**
 * Counts work in progress on one node. Every `…Started()` must be followed by exactly one
 * `…Ended()` (an extra `Ended` is ignored, so a count never goes negative). Times come from
 * `clock.monotonic()`.
 */
export class MetricsRecorder {
  private readonly clock: Clock;
  private readonly requests: Concurrency;
  private readonly userFunction: Concurrency;
  private readonly database: Concurrency;
  private intervalStart: number;
  /** Total time of the requests that ended in this interval and said when they started, ms. */
  private requestTimeMs = 0;

  constructor(options: { clock?: Clock; version?: string } = {}) {
    this.clock = options.clock ?? systemClock;
    this.version = options.version;
    const now = this.clock.monotonic();
    this.intervalStart = now;
    this.requests = new Concurrency(now);
    this.userFunction = new Concurrency(now);
    this.database = new Concurrency(now);
  }

  /** Reported with every sample (see `MetricsReport.version`). */
  version: string | undefined;

  /** A request reached this node (from a client or forwarded by another node). Returns its start time, for `requestEnded`. */
  requestStarted(): number {
    const now = this.clock.monotonic();
    this.requests.start(now);
    return now;
  }

  /** The request is answered (or failed). `startedAt` is what `requestStarted` returned, for the latency total; optional. */
  requestEnded(startedAt?: number): void {
    const now = this.clock.monotonic();
    this.requests.end(now);
    if (startedAt !== undefined) this.requestTimeMs += now - startedAt;
  }

  /** A call (command, stream message) went to the user function. */
  userFunctionStarted(): void {
    this.userFunction.start(this.clock.monotonic());
  }

  /** The user function answered it. */
  userFunctionEnded(): void {
    this.userFunction.end(this.clock.monotonic());
  }

  /** A database operation (journal write or read, snapshot, state store) began. */
  databaseStarted(): void {
    this.database.start(this.clock.monotonic());
  }

  databaseEnded(): void {
    this.database.end(this.clock.monotonic());
  }

  /** Requests, user-function calls and database operations in progress now. */
  get inProgress(): { requests: number; userFunction: number; database: number } {
    return { requests: this.requests.active, userFunction: this.userFunction.active, database: this.database.active };
  }

  /** Ends the current interval and returns its averages; the next interval starts now. */
  sample(): MetricsReport {
    const now = this.clock.monotonic();
    const intervalMs = now - this.intervalStart;
    this.intervalStart = now;
    const req = this.requests.take(now);
    const uf = this.userFunction.take(now);
    const db = this.database.take(now);
    const avg = (area: number) => (intervalMs > 0 ? area / intervalMs : 0);
    const report: MetricsReport = {
      intervalMs,
      requestConcurrency: avg(req.area),
      userFunctionConcurrency: avg(uf.area),
      databaseConcurrency: avg(db.area),
      requestCount: req.started,
      requestsEnded: req.ended,
      requestTimeMs: this.requestTimeMs,
    };
    this.requestTimeMs = 0;
    if (this.version !== undefined) report.version = this.version;
    return report;
  }
}
