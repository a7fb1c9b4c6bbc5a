/**
 * The ingress's Prometheus metrics: calls by protocol, method and status, and a latency
 * histogram by protocol and method. Registered once per registry (a second ingress on the same
 * registry shares them).
 *
 * Recording a call is on every call's path, so it touches only plain numbers: nested maps
 * protocol → method → status find the cells (no label object hashed, no key string built), then
 * a counter, one histogram bucket, the sum and the count are incremented. The numbers reach
 * prom-client at scrape time, through two metric objects registered on the registry whose
 * `get()` answers exactly what prom-client's own Counter and Histogram would for the same
 * observations, so `/metrics` reads the same.
 */
import type { Metric, Registry } from 'prom-client';

export type IngressProtocol = 'grpc' | 'grpc-web' | 'http';

/** The calls counter, as a prom-client Counter would be configured. */
export const REQUESTS_METRIC = {
  name: 'cloudstate_ingress_requests_total',
  help: 'Calls served by the proxy ingress, by protocol (grpc, grpc-web, http), method (gRPC path) and status (gRPC status name or HTTP status code).',
  labelNames: ['protocol', 'method', 'status'],
} as const;

/** The latency histogram, as a prom-client Histogram would be configured. */
export const DURATION_METRIC = {
  name: 'cloudstate_ingress_request_duration_seconds',
  help: 'Time from the request to the end of the answer, in seconds, by protocol and method.',
  labelNames: ['protocol', 'method'],
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
} as const;

const BUCKETS = DURATION_METRIC.buckets;

/** Calls of one protocol, method and status. */
interface CallCount {
  readonly labels: { protocol: IngressProtocol; method: string; status: string };
  value: number;
}

/** Latency of one protocol and method; `buckets[i]` counts calls in (BUCKETS[i-1], BUCKETS[i]]. */
interface Latency {
  readonly labels: { protocol: IngressProtocol; method: string };
  readonly buckets: number[];
  sum: number;
  count: number;
  readonly byStatus: Map<string, CallCount>;
}

/**
 * The recorded numbers, shared by the two registered metrics. `counts` and `latencies` list the
 * cells in creation order, the order prom-client exports label sets in.
 */
class IngressCalls {
  private readonly byProtocol = new Map<IngressProtocol, Map<string, Latency>>();
  readonly counts: CallCount[] = [];
  readonly latencies: Latency[] = [];

  record(protocol: IngressProtocol, method: string, status: string, seconds: number): void {
    let byMethod = this.byProtocol.get(protocol);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.byProtocol.set(protocol, byMethod);
    }
    let latency = byMethod.get(method);
    if (latency === undefined) {
      latency = { labels: { protocol, method }, buckets: BUCKETS.map(() => 0), sum: 0, count: 0, byStatus: new Map() };
      byMethod.set(method, latency);
      this.latencies.push(latency);
    }
    let calls = latency.byStatus.get(status);
    if (calls === undefined) {
      calls = { labels: { protocol, method, status }, value: 0 };
      latency.byStatus.set(status, calls);
      this.counts.push(calls);
    }
    calls.value++;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    if (i < BUCKETS.length) latency.buckets[i]!++;
    latency.sum += seconds;
    latency.count++;
  }

  /** Forgets every label set, as prom-client's `reset()` does (the registry resets both metrics). */
  reset(): void {
    this.byProtocol.clear();
    this.counts.length = 0;
    this.latencies.length = 0;
  }
}

/** One exported sample, in prom-client's shape (`sharedLabels` are the histogram's own labels). */
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
  sharedLabels?: Record<string, string>;
}

/** The calls counter as prom-client's registry reads a metric (see prom-client/lib/counter.js). */
class RequestsCounter {
  // Not readonly: an OpenMetrics registry renames counters (drops `_total`) when it scrapes.
  name: string = REQUESTS_METRIC.name;
  readonly help = REQUESTS_METRIC.help;
  readonly type = 'counter';
  readonly aggregator = 'sum';

  constructor(readonly calls: IngressCalls) {}

  async get() {
    const values: Sample[] = this.calls.counts.map(({ labels, value }) => ({ labels, value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.calls.reset();
  }
}

/** The latency histogram as prom-client's registry reads a metric (see prom-client/lib/histogram.js). */
class DurationHistogram {
  readonly name = DURATION_METRIC.name;
  readonly help = DURATION_METRIC.help;
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(readonly calls: IngressCalls) {}

  /** For the text format: `le` first, then the label set (prom-client's `sharedLabels`). */
  async getForPromString() {
    const bucket = `${this.name}_bucket`;
    const values: Sample[] = [];
    for (const { labels, buckets, sum, count } of this.calls.latencies) {
      let cumulative = 0;
      for (let i = 0; i < BUCKETS.length; i++) {
        cumulative += buckets[i]!;
        values.push({ labels: { le: BUCKETS[i]! }, sharedLabels: labels, value: cumulative, metricName: bucket });
      }
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: labels, value: count, metricName: bucket },
        { labels: {}, sharedLabels: labels, value: sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: labels, value: count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** For JSON (`getMetricsAsJSON`, cluster aggregation): each sample's labels in one object. */
  async get() {
    const data = await this.getForPromString();
    for (const sample of data.values) {
      sample.labels = { ...sample.labels, ...sample.sharedLabels };
      delete sample.sharedLabels;
    }
    return data;
  }

  reset(): void {
    this.calls.reset();
  }
}

export class IngressMetrics {
  private readonly calls: IngressCalls;

  /** `clock` is `now` except in tests. */
  constructor(
    readonly registry: Registry,
    private readonly clock: () => number = now,
  ) {
    const existing: unknown = registry.getSingleMetric(REQUESTS_METRIC.name);
    if (existing instanceof RequestsCounter) {
      this.calls = existing.calls;
    } else {
      // prom-client's registry takes any object shaped like its metrics; its types name only its own classes.
      this.calls = new IngressCalls();
      registry.registerMetric(new RequestsCounter(this.calls) as unknown as Metric);
      registry.registerMetric(new DurationHistogram(this.calls) as unknown as Metric);
    }
  }

  /**
   * Records one finished call. `method` is the gRPC path of a known method (unknown paths are
   * recorded as `unknown`, so clients cannot grow the label set); `startedAt` is from the clock
   * (`now()`).
   */
  record(protocol: IngressProtocol, method: string, status: string, startedAt: number): void {
    this.calls.record(protocol, method, status, (this.clock() - startedAt) / 1000);
  }
}

/** Milliseconds from a monotonic clock, for latency. */
export function now(): number {
  return performance.now();
}
