/**
 * The autoscaler's own metrics, in a prom-client `Registry` the caller owns (the proxy's
 * `/metrics` endpoint serves it). They exist only on the node that hosts the autoscaler:
 * registered when the instance starts, removed when it stops, so a scrape of the whole
 * cluster sees one set of values, not one stale copy per node.
 *
 * - `cloudstate_autoscaler_decisions_total{direction,reason}`: scaling decisions taken.
 * - `cloudstate_autoscaler_desired_members`: members the autoscaler wants now.
 * - `cloudstate_autoscaler_current_members`: members up now (of the scaled role).
 * - `cloudstate_autoscaler_user_function_concurrency`, `…_request_concurrency`,
 *   `…_request_rate`: the load the last decision saw (per node; per second for the cluster).
 */
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

const NAMES = ['decisions_total', 'desired_members', 'current_members', 'user_function_concurrency', 'request_concurrency', 'request_rate'].map((n) => `cloudstate_autoscaler_${n}`);

export class AutoscalerPrometheus {
  readonly decisions: Counter<'direction' | 'reason'>;
  readonly desiredMembers: Gauge;
  readonly currentMembers: Gauge;
  readonly userFunctionConcurrency: Gauge;
  readonly requestConcurrency: Gauge;
  readonly requestRate: Gauge;

  constructor(private readonly registry: Registry) {
    const registers = [registry];
    this.decisions = new Counter({ name: 'cloudstate_autoscaler_decisions_total', help: 'Scaling decisions taken by the autoscaler', labelNames: ['direction', 'reason'] as const, registers });
    this.desiredMembers = new Gauge({ name: 'cloudstate_autoscaler_desired_members', help: 'Members the autoscaler wants', registers });
    this.currentMembers = new Gauge({ name: 'cloudstate_autoscaler_current_members', help: 'Members up now (of the scaled role)', registers });
    this.userFunctionConcurrency = new Gauge({ name: 'cloudstate_autoscaler_user_function_concurrency', help: 'Average user-function concurrency per node, as the autoscaler last saw it', registers });
    this.requestConcurrency = new Gauge({ name: 'cloudstate_autoscaler_request_concurrency', help: 'Average request concurrency per node, as the autoscaler last saw it', registers });
    this.requestRate = new Gauge({ name: 'cloudstate_autoscaler_request_rate', help: 'Requests per second arriving at the cluster, as the autoscaler last saw it', registers });
  }

  /** Removes the metrics from the registry (the instance stopped on this node). */
  unregister(): void {
    for (const name of NAMES) this.registry.removeSingleMetric(name);
  }
}

/** Registers the autoscaler's metrics in `registry`, first removing any a previous instance left. */
export function autoscalerPrometheus(registry: Registry): AutoscalerPrometheus {
  for (const name of NAMES) registry.removeSingleMetric(name);
  return new AutoscalerPrometheus(registry);
}
