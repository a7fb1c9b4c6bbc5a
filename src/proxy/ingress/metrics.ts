/**
 * The proxy's Prometheus primitives and the ingress's metrics.
 *
 * `CounterMetric` and `HistogramMetric` keep each series as a cell of plain numbers that its
 * owner holds and increments (no label object hashed, no key string built per observation);
 * the numbers reach prom-client at scrape time, through `get()` methods that answer exactly
 * what prom-client's own Counter and Histogram would for the same observations, so `/metrics`
 * reads the same. The ingress's and the entities' (../entities/instrumentation.ts) metrics are
 * made of them.
 *
 * The ingress's: calls by protocol, method and status, and a latency histogram by protocol and
 * method, registered once per registry (a second ingress on the same registry shares them).
 * Nested maps protocol → method → status find a call's cells.
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

/** Labels of one series: names to values. */
export type Labels = Readonly<Record<string, string>>;

/** One series of a counter. */
export interface CounterCell {
  readonly labels: Labels;
  value: number;
}

/** One series of a histogram; `buckets[i]` counts observations in (bounds[i-1], bounds[i]]. */
export interface HistogramCell {
  readonly labels: Labels;
  readonly buckets: number[];
  sum: number;
  count: number;
}

/** One exported sample, in prom-client's shape (`sharedLabels` are the histogram's own labels). */
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
  sharedLabels?: Labels;
}

/**
 * A counter that prom-client's registry reads as its own Counter (see prom-client/lib/counter.js),
 * over series the owner holds (`cell`) and increments as plain numbers. Series are exported in
 * creation order. `reset()` zeroes them (the owner keeps its cells); a subclass may forget them.
 */
export class CounterMetric {
  // Not readonly: an OpenMetrics registry renames counters (drops `_total`) when it scrapes.
  name: string;
  readonly help: string;
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly cells: CounterCell[] = [];

  constructor(config: { readonly name: string; readonly help: string }) {
    this.name = config.name;
    this.help = config.help;
  }

  /** A new series at 0 with `labels` (their names in the order they print). */
  cell(labels: Labels): CounterCell {
    const cell = { labels, value: 0 };
    this.cells.push(cell);
    return cell;
  }

  async get() {
    const values: Sample[] = this.cells.map(({ labels, value }) => ({ labels, value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const cell of this.cells) cell.value = 0;
  }
}

/**
 * A histogram that prom-client's registry reads as its own Histogram (see
 * prom-client/lib/histogram.js), over series the owner holds (`cell`) and feeds through
 * `observe`. `reset()` as for `CounterMetric`.
 */
export class HistogramMetric {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** Upper bounds of the buckets, ascending (`+Inf` implied). */
  readonly bounds: readonly number[];
  readonly cells: HistogramCell[] = [];

  constructor(config: { readonly name: string; readonly help: string; readonly buckets: readonly number[] }) {
    this.name = config.name;
    this.help = config.help;
    this.bounds = config.buckets;
  }

  /** A new empty series with `labels`. */
  cell(labels: Labels): HistogramCell {
    const cell = { labels, buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
    this.cells.push(cell);
    return cell;
  }

  /** Records `value` in `cell` (one of this histogram's): one bucket, the sum and the count. */
  observe(cell: HistogramCell, value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) cell.buckets[i]!++;
    cell.sum += value;
    cell.count++;
  }

  /** For the text format: `le` first, then the label set (prom-client's `sharedLabels`). */
  async getForPromString() {
    const bounds = this.bounds;
    const bucket = `${this.name}_bucket`;
    const values: Sample[] = [];
    for (const { labels, buckets, sum, count } of this.cells) {
      let cumulative = 0;
      for (let i = 0; i < bounds.length; i++) {
        cumulative += buckets[i]!;
        values.push({ labels: { le: bounds[i]! }, sharedLabels: labels, value: cumulative, metricName: bucket });
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
    for (const cell of this.cells) {
      cell.buckets.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }
}

/**
 * Registers `metric` on `registry`. prom-client's registry takes any object shaped like its
 * metrics; its types name only its own classes.
 */
export function registerMetric(registry: Registry, metric: CounterMetric | HistogramMetric): void {
  registry.registerMetric(metric as unknown as Metric);
}

/** Latency of one protocol and method, and its calls by status. */
interface Latency {
  readonly cell: HistogramCell;
  readonly byStatus: Map<string, CounterCell>;
}

/**
 * The recorded numbers of both ingress metrics. Nested maps protocol → method → status find
 * the cells; a reset forgets them all, as prom-client's `reset()` forgets label sets.
 */
class IngressCalls {
  private readonly byProtocol = new Map<IngressProtocol, Map<string, Latency>>();
  readonly requests = new RequestsCounter(this);
  readonly durations = new DurationHistogram(this);

  record(protocol: IngressProtocol, method: string, status: string, seconds: number): void {
    let byMethod = this.byProtocol.get(protocol);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.byProtocol.set(protocol, byMethod);
    }
    let latency = byMethod.get(method);
    if (latency === undefined) {
      latency = { cell: this.durations.cell({ protocol, method }), byStatus: new Map() };
      byMethod.set(method, latency);
    }
    let calls = latency.byStatus.get(status);
    if (calls === undefined) {
      calls = this.requests.cell({ protocol, method, status });
      latency.byStatus.set(status, calls);
    }
    calls.value++;
    this.durations.observe(latency.cell, seconds);
  }

  /** Forgets every label set (the registry resets both metrics). */
  forget(): void {
    this.byProtocol.clear();
    this.requests.cells.length = 0;
    this.durations.cells.length = 0;
  }
}

/** The calls counter; knows its `IngressCalls`, so a second ingress on the registry finds them. */
class RequestsCounter extends CounterMetric {
  constructor(readonly calls: IngressCalls) {
    super(REQUESTS_METRIC);
  }

  override reset(): void {
    this.calls.forget();
  }
}

class DurationHistogram extends HistogramMetric {
  constructor(readonly calls: IngressCalls) {
    super(DURATION_METRIC);
  }

  override reset(): void {
    this.calls.forget();
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
      this.calls = new IngressCalls();
      registerMetric(registry, this.calls.requests);
      registerMetric(registry, this.calls.durations);
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
