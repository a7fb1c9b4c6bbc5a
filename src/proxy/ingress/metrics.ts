/**
 * The ingress's Prometheus metrics: calls by protocol, method and status, and a latency
 * histogram by protocol and method. Registered once per registry (a second ingress on the same
 * registry shares them). Label children are cached, so recording a call is two map lookups.
 */
import { Counter, Histogram, Registry } from 'prom-client';

export type IngressProtocol = 'grpc' | 'grpc-web' | 'http';

const REQUESTS = 'cloudstate_ingress_requests_total';
const DURATION = 'cloudstate_ingress_request_duration_seconds';

export class IngressMetrics {
  private readonly requests: Counter<'protocol' | 'method' | 'status'>;
  private readonly duration: Histogram<'protocol' | 'method'>;
  private readonly counterChildren = new Map<string, { inc(): void }>();
  private readonly histogramChildren = new Map<string, { observe(value: number): void }>();

  constructor(readonly registry: Registry) {
    this.requests =
      (registry.getSingleMetric(REQUESTS) as Counter<'protocol' | 'method' | 'status'> | undefined) ??
      new Counter({
        name: REQUESTS,
        help: 'Calls served by the proxy ingress, by protocol (grpc, grpc-web, http), method (gRPC path) and status (gRPC status name or HTTP status code).',
        labelNames: ['protocol', 'method', 'status'],
        registers: [registry],
      });
    this.duration =
      (registry.getSingleMetric(DURATION) as Histogram<'protocol' | 'method'> | undefined) ??
      new Histogram({
        name: DURATION,
        help: 'Time from the request to the end of the answer, in seconds, by protocol and method.',
        labelNames: ['protocol', 'method'],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      });
  }

  /**
   * Records one finished call. `method` is the gRPC path of a known method (unknown paths are
   * recorded as `unknown`, so clients cannot grow the label set); `startedAt` is from `now()`.
   */
  record(protocol: IngressProtocol, method: string, status: string, startedAt: number): void {
    const key = `${protocol} ${method} ${status}`;
    let counter = this.counterChildren.get(key);
    if (counter === undefined) {
      counter = this.requests.labels(protocol, method, status);
      this.counterChildren.set(key, counter);
    }
    counter.inc();
    const histogramKey = `${protocol} ${method}`;
    let histogram = this.histogramChildren.get(histogramKey);
    if (histogram === undefined) {
      histogram = this.duration.labels(protocol, method);
      this.histogramChildren.set(histogramKey, histogram);
    }
    histogram.observe((now() - startedAt) / 1000);
  }
}

/** Milliseconds from a monotonic clock, for latency. */
export function now(): number {
  return performance.now();
}
