/**
 * The autoscaler's picture of the cluster's load: the reports each member sent (kept for the
 * concurrency window, by time of arrival), summarized into one `ClusterLoad` per decision:
 * concurrency averaged per node over the concurrency window, weighted by each report's
 * interval; the request rate over the (shorter) request-rate window, summed over members.
 * It owns the bookkeeping of reports and nothing else: it reads no clock (times are given)
 * and decides nothing.
 */
import type { AutoscalerSettings } from './settings.js';
import type { MetricsReport } from './metrics.js';

/** The cluster's load as `decide` sees it. */
export interface ClusterLoad {
  /** Members up now (of the scaled role). */
  members: number;
  /** Average requests in progress per node (before subtracting database concurrency). */
  requestConcurrency: number;
  /** Average user-function calls in progress per node. */
  userFunctionConcurrency: number;
  /** Average database operations in progress per node. */
  databaseConcurrency: number;
  /** Requests per second arriving at the whole cluster. */
  requestRate: number;
  /** Average request latency over the rate window, ms (0 when none ended); for logs. */
  requestLatencyMs: number;
  /** An upgrade is rolling out (members report different versions, or the platform says so). */
  upgrading: boolean;
}

interface Sample {
  readonly receivedAt: number;
  readonly report: MetricsReport;
}

/** Reports per member, oldest first. */
export class LoadWindow {
  private readonly samples = new Map<string, Sample[]>();

  /** Keeps `report` from `memberId`, received at `receivedAt` (ms, the caller's clock). */
  record(memberId: string, report: MetricsReport, receivedAt: number): void {
    let list = this.samples.get(memberId);
    if (!list) this.samples.set(memberId, (list = []));
    list.push({ receivedAt, report });
  }

  /** True once `memberId` has reported since it was last forgotten or expired. */
  hasReportFrom(memberId: string): boolean {
    return (this.samples.get(memberId)?.length ?? 0) > 0;
  }

  /** Forgets the reports of members not in `memberIds` (they left, or are no longer up). */
  retainOnly(memberIds: ReadonlySet<string>): void {
    for (const id of this.samples.keys()) if (!memberIds.has(id)) this.samples.delete(id);
  }

  /** Forgets reports received before `time`. */
  expireBefore(time: number): void {
    for (const [id, list] of this.samples) {
      let i = 0;
      while (i < list.length && list[i]!.receivedAt < time) i++;
      if (i === list.length) this.samples.delete(id);
      else if (i > 0) list.splice(0, i);
    }
  }

  /**
   * The load of `members` at `now`: drops reports older than the concurrency window first.
   * `platformUpgrading` is the scaler's word on an upgrade (a Deployment rolling out).
   */
  summarize(members: readonly string[], now: number, settings: AutoscalerSettings, platformUpgrading = false): ClusterLoad {
    this.expireBefore(now - settings.targetConcurrencyWindowMs);
    let weight = 0;
    let request = 0;
    let userFunction = 0;
    let database = 0;
    let rate = 0;
    let ended = 0;
    let endedTime = 0;
    const versions = new Set<string>();
    const rateFrom = now - settings.requestRateWindowMs;
    for (const id of members) {
      const list = this.samples.get(id);
      if (!list || list.length === 0) continue;
      let count = 0;
      let countMs = 0;
      for (const { receivedAt, report } of list) {
        const w = report.intervalMs;
        weight += w;
        request += w * report.requestConcurrency;
        userFunction += w * report.userFunctionConcurrency;
        database += w * report.databaseConcurrency;
        if (receivedAt >= rateFrom) {
          count += report.requestCount;
          countMs += w;
          ended += report.requestsEnded;
          endedTime += report.requestTimeMs;
        }
      }
      if (countMs > 0) rate += (count * 1000) / countMs;
      const version = list[list.length - 1]!.report.version;
      if (version !== undefined) versions.add(version);
    }
    const avg = (x: number) => (weight > 0 ? x / weight : 0);
    return {
      members: members.length,
      requestConcurrency: avg(request),
      userFunctionConcurrency: avg(userFunction),
      databaseConcurrency: avg(database),
      requestRate: rate,
      requestLatencyMs: ended > 0 ? endedTime / ended : 0,
      upgrading: platformUpgrading || versions.size > 1,
    };
  }
}
