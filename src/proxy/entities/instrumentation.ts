/**
 * Per-entity Prometheus metrics of event-sourced and value entities, after the reference
 * proxy's telemetry (`io.cloudstate.proxy.telemetry`): the same names, types and `entity_name`
 * label (the service's persistence id), `cloudstate_eventsourced_*` as its
 * PrometheusEventSourcedInstrumentation has them and `cloudstate_valuebased_*` as its
 * PrometheusEntityInstrumentation (value-based entities) has them. Times are in seconds, in
 * histograms with the reference's buckets (the Prometheus Java client's defaults); how long
 * entities stay active is a summary, as there.
 *
 * Owns the metric definitions and one instrumentation per entity type (`EntityMetrics`
 * makes them); the entities (./stream-entity.ts and its two subclasses) call its methods at
 * each step and keep the start times themselves. It decides nothing about the entities.
 *
 * Not here: the reference's stashed / unstashed commands and command stash time. A command
 * that arrives while its entity is busy waits in sharding's queue for that entity, which the
 * entity never sees, so "received" is when the entity takes the command, and the command's
 * total time starts there.
 *
 * Cost: the label value is resolved once per entity type, when it is set up; a command then
 * costs counter increments and histogram observations on cells the instrumentation holds (see
 * ../ingress/metrics.ts), and a few reads of the clock — no allocation, no lookup by label.
 */
import { Summary, type Registry } from 'prom-client';
import type { Any } from '../../protocol/index.js';
import { CounterMetric, HistogramMetric, now, registerMetric } from '../ingress/metrics.js';
import type { CounterCell, HistogramCell } from '../ingress/metrics.js';
import { EMPTY_BYTES } from './messages.js';

/** The histograms' upper bounds, seconds: the reference's (the Prometheus Java client's default buckets). */
export const ENTITY_TIME_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** The label of every entity metric: the entity type's name, its service's persistence id. */
export const ENTITY_NAME_LABEL = 'entity_name';

/** How long entities stay active: the reference's summary (quantiles over the last minute). */
const ACTIVE_TIME_SUMMARY = { percentiles: [0.5, 0.95, 0.99, 1], maxAgeSeconds: 60, ageBuckets: 6 };

/** Makes a kind's metrics, named `<prefix>_<suffix>`, on `registry` (none: recorded nowhere). */
class Families {
  constructor(
    private readonly registry: Registry | undefined,
    private readonly prefix: string,
  ) {}

  counter(suffix: string, help: string): CounterMetric {
    const metric = new CounterMetric({ name: `${this.prefix}_${suffix}`, help });
    if (this.registry) registerMetric(this.registry, metric);
    return metric;
  }

  histogram(suffix: string, help: string): HistogramMetric {
    const metric = new HistogramMetric({ name: `${this.prefix}_${suffix}`, help, buckets: ENTITY_TIME_BUCKETS });
    if (this.registry) registerMetric(this.registry, metric);
    return metric;
  }

  summary(suffix: string, help: string): Summary {
    return new Summary({ name: `${this.prefix}_${suffix}`, help, labelNames: [ENTITY_NAME_LABEL], ...ACTIVE_TIME_SUMMARY, registers: this.registry ? [this.registry] : [] });
  }
}

/** The metrics both kinds have. */
class CommonMetrics {
  readonly activated: CounterMetric;
  readonly passivated: CounterMetric;
  readonly activeTime: Summary;
  readonly failedEntities: CounterMetric;
  readonly recoveryTime: HistogramMetric;
  readonly received: CounterMetric;
  readonly processingTime: HistogramMetric;
  readonly failedCommands: CounterMetric;
  readonly completed: CounterMetric;
  readonly totalTime: HistogramMetric;
  readonly persistTime: HistogramMetric;

  constructor(f: Families, persisted: 'events' | 'state') {
    this.activated = f.counter('activated_entities_total', 'Entity instances started on this node (activated), recovery included.');
    this.passivated = f.counter('passivated_entities_total', 'Entity instances stopped on this node (passivated, handed off, or gone after a failed recovery).');
    this.activeTime = f.summary('entity_active_time_seconds', 'How long entity instances were active, from activation to passivation, in seconds.');
    this.failedEntities = f.counter('failed_entities_total', 'Entity streams that failed: a crash (the user function failed, ended the stream or did not answer), or effects that could not be stored.');
    this.recoveryTime = f.histogram('recovery_time_seconds', 'Time to recover an entity (read its state and send it to the user function), in seconds.');
    this.received = f.counter('received_commands_total', 'Commands an entity took to handle.');
    this.processingTime = f.histogram('command_processing_time_seconds', 'Time from sending a command to the user function to its answer, in seconds.');
    this.failedCommands = f.counter('failed_commands_total', 'Commands that failed: a failure from the user function, a crash, or an error.');
    this.completed = f.counter('completed_commands_total', 'Commands finished, failed or not.');
    this.totalTime = f.histogram('command_total_time_seconds', 'Time from an entity taking a command to its end, persistence included, in seconds.');
    this.persistTime = f.histogram('persist_time_seconds', `Time to store the ${persisted} of a command, in seconds.`);
  }
}

class EventSourcedMetrics extends CommonMetrics {
  readonly persistedEvents: CounterMetric;
  readonly persistedEventBytes: CounterMetric;
  readonly loadedEvents: CounterMetric;
  readonly loadedEventBytes: CounterMetric;
  readonly persistedSnapshots: CounterMetric;
  readonly persistedSnapshotBytes: CounterMetric;
  readonly loadedSnapshots: CounterMetric;
  readonly loadedSnapshotBytes: CounterMetric;

  constructor(registry: Registry | undefined) {
    const f = new Families(registry, 'cloudstate_eventsourced');
    super(f, 'events');
    this.persistedEvents = f.counter('persisted_events_total', 'Events stored.');
    this.persistedEventBytes = f.counter('persisted_event_bytes_total', 'Size of the events stored, in bytes (each an encoded google.protobuf.Any).');
    this.loadedEvents = f.counter('loaded_events_total', 'Events read in recoveries.');
    this.loadedEventBytes = f.counter('loaded_event_bytes_total', 'Size of the events read in recoveries, in bytes.');
    this.persistedSnapshots = f.counter('persisted_snapshots_total', 'Snapshots stored.');
    this.persistedSnapshotBytes = f.counter('persisted_snapshot_bytes_total', 'Size of the snapshots stored, in bytes.');
    this.loadedSnapshots = f.counter('loaded_snapshots_total', 'Snapshots read in recoveries.');
    this.loadedSnapshotBytes = f.counter('loaded_snapshot_bytes_total', 'Size of the snapshots read in recoveries, in bytes.');
  }
}

class ValueEntityMetrics extends CommonMetrics {
  readonly recoveryFailed: CounterMetric;
  readonly persistFailed: CounterMetric;
  readonly persistedStates: CounterMetric;
  readonly persistedStateBytes: CounterMetric;
  readonly loadedStates: CounterMetric;
  readonly loadedStateBytes: CounterMetric;
  readonly deleteTime: HistogramMetric;
  readonly deleteFailed: CounterMetric;

  constructor(registry: Registry | undefined) {
    const f = new Families(registry, 'cloudstate_valuebased');
    super(f, 'state');
    this.recoveryFailed = f.counter('recovery_failed_total', 'Recoveries that failed (the state could not be read).');
    this.persistFailed = f.counter('persist_failed_total', 'State updates that could not be stored.');
    this.persistedStates = f.counter('persisted_states_total', 'States stored.');
    this.persistedStateBytes = f.counter('persisted_state_bytes_total', 'Size of the states stored, in bytes (each an encoded google.protobuf.Any).');
    // `loaded_state_total`, singular: the reference's name.
    this.loadedStates = f.counter('loaded_state_total', 'States read in recoveries.');
    this.loadedStateBytes = f.counter('loaded_state_bytes_total', 'Size of the states read in recoveries, in bytes.');
    this.deleteTime = f.histogram('delete_time_seconds', 'Time to delete the state of a command, in seconds.');
    this.deleteFailed = f.counter('delete_failed_total', 'State deletions that could not be done.');
  }
}

/** Bytes of `value` as an encoded `google.protobuf.Any` (the reference's `serializedSize`). */
export function anySize(typeUrl: string, value: Uint8Array): number {
  const urlBytes = typeUrl.length === 0 ? 0 : Buffer.byteLength(typeUrl, 'utf8');
  return (urlBytes === 0 ? 0 : 1 + varintSize(urlBytes) + urlBytes) + (value.byteLength === 0 ? 0 : 1 + varintSize(value.byteLength) + value.byteLength);
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/**
 * What every entity of one type records, event sourced or value. Times are from the clock
 * (ms, monotonic); a method that reads it returns what it read, for the caller to keep as the
 * start of a later span. One instance serves every entity of the type.
 */
export class EntityInstrumentation {
  private readonly activations: CounterCell;
  private readonly passivations: CounterCell;
  private readonly activeTime: { observe(seconds: number): void };
  private readonly entityFailures: CounterCell;
  private readonly recoveryTime: HistogramCell;
  private readonly receivedCommands: CounterCell;
  private readonly processingTime: HistogramCell;
  private readonly commandFailures: CounterCell;
  private readonly completedCommands: CounterCell;
  private readonly totalTime: HistogramCell;
  protected readonly persistTime: HistogramCell;
  protected readonly labels: { readonly [ENTITY_NAME_LABEL]: string };

  constructor(
    private readonly m: CommonMetrics,
    entityName: string,
    /** ms, monotonic. */
    readonly now: () => number,
  ) {
    const labels = (this.labels = { [ENTITY_NAME_LABEL]: entityName });
    this.activations = m.activated.cell(labels);
    this.passivations = m.passivated.cell(labels);
    this.activeTime = m.activeTime.labels(entityName);
    this.entityFailures = m.failedEntities.cell(labels);
    this.recoveryTime = m.recoveryTime.cell(labels);
    this.receivedCommands = m.received.cell(labels);
    this.processingTime = m.processingTime.cell(labels);
    this.commandFailures = m.failedCommands.cell(labels);
    this.completedCommands = m.completed.cell(labels);
    this.totalTime = m.totalTime.cell(labels);
    this.persistTime = m.persistTime.cell(labels);
  }

  /** An instance started; returns the time, for `passivated`. */
  activated(): number {
    this.activations.value++;
    return this.now();
  }

  /** An instance stopped (passivation, hand-off, a failed start), active since `activatedAt`. */
  passivated(activatedAt: number): void {
    this.passivations.value++;
    this.activeTime.observe((this.now() - activatedAt) / 1000);
  }

  /** An entity's stream failed (the entity crashed). */
  entityFailed(): void {
    this.entityFailures.value++;
  }

  /** A recovery begun at `startedAt` succeeded. */
  recoveryCompleted(startedAt: number): void {
    this.m.recoveryTime.observe(this.recoveryTime, (this.now() - startedAt) / 1000);
  }

  /** A recovery failed. Event-sourced entities have no such metric in the reference: not counted for them. */
  recoveryFailed(): void {}

  /** An entity took a command; returns the time, for `commandCompleted`. */
  commandReceived(): number {
    this.receivedCommands.value++;
    return this.now();
  }

  /** The user function answered (or failed to answer) a command sent at `sentAt`; returns the time. */
  commandProcessed(sentAt: number): number {
    const at = this.now();
    this.m.processingTime.observe(this.processingTime, (at - sentAt) / 1000);
    return at;
  }

  /** A command failed (before `commandCompleted`). */
  commandFailed(): void {
    this.commandFailures.value++;
  }

  /** A command received at `receivedAt` ended, failed or not. */
  commandCompleted(receivedAt: number): void {
    this.completedCommands.value++;
    this.m.totalTime.observe(this.totalTime, (this.now() - receivedAt) / 1000);
  }

  /** Records a persist span from `startedAt` to now. */
  protected persistCompleted(startedAt: number): void {
    this.m.persistTime.observe(this.persistTime, (this.now() - startedAt) / 1000);
  }
}

export class EventSourcedInstrumentation extends EntityInstrumentation {
  private readonly persistedEvents: CounterCell;
  private readonly persistedEventBytes: CounterCell;
  private readonly loadedEvents: CounterCell;
  private readonly loadedEventBytes: CounterCell;
  private readonly persistedSnapshots: CounterCell;
  private readonly persistedSnapshotBytes: CounterCell;
  private readonly loadedSnapshots: CounterCell;
  private readonly loadedSnapshotBytes: CounterCell;

  constructor(m: EventSourcedMetrics, entityName: string, now: () => number) {
    super(m, entityName, now);
    const labels = this.labels;
    this.persistedEvents = m.persistedEvents.cell(labels);
    this.persistedEventBytes = m.persistedEventBytes.cell(labels);
    this.loadedEvents = m.loadedEvents.cell(labels);
    this.loadedEventBytes = m.loadedEventBytes.cell(labels);
    this.persistedSnapshots = m.persistedSnapshots.cell(labels);
    this.persistedSnapshotBytes = m.persistedSnapshotBytes.cell(labels);
    this.loadedSnapshots = m.loadedSnapshots.cell(labels);
    this.loadedSnapshotBytes = m.loadedSnapshotBytes.cell(labels);
  }

  /** A command's events, whose write began at `startedAt`, are stored. */
  eventsPersisted(events: readonly Any[], startedAt: number): void {
    this.persistCompleted(startedAt);
    let bytes = 0;
    for (const event of events) bytes += anySize(event.type_url ?? '', event.value ?? EMPTY_BYTES);
    this.persistedEvents.value += events.length;
    this.persistedEventBytes.value += bytes;
  }

  /** A snapshot is stored. */
  snapshotPersisted(snapshot: Any): void {
    this.persistedSnapshots.value++;
    this.persistedSnapshotBytes.value += anySize(snapshot.type_url ?? '', snapshot.value ?? EMPTY_BYTES);
  }

  /** A recovery read an event (`manifest`: its type URL). */
  eventLoaded(manifest: string, payload: Uint8Array): void {
    this.loadedEvents.value++;
    this.loadedEventBytes.value += anySize(manifest, payload);
  }

  /** A recovery read a snapshot. */
  snapshotLoaded(manifest: string, payload: Uint8Array): void {
    this.loadedSnapshots.value++;
    this.loadedSnapshotBytes.value += anySize(manifest, payload);
  }
}

export class ValueEntityInstrumentation extends EntityInstrumentation {
  private readonly recoveryFailures: CounterCell;
  private readonly persistFailures: CounterCell;
  private readonly persistedStates: CounterCell;
  private readonly persistedStateBytes: CounterCell;
  private readonly loadedStates: CounterCell;
  private readonly loadedStateBytes: CounterCell;
  private readonly deleteTime: HistogramCell;
  private readonly deleteFailures: CounterCell;

  constructor(private readonly v: ValueEntityMetrics, entityName: string, now: () => number) {
    super(v, entityName, now);
    const labels = this.labels;
    this.recoveryFailures = v.recoveryFailed.cell(labels);
    this.persistFailures = v.persistFailed.cell(labels);
    this.persistedStates = v.persistedStates.cell(labels);
    this.persistedStateBytes = v.persistedStateBytes.cell(labels);
    this.loadedStates = v.loadedStates.cell(labels);
    this.loadedStateBytes = v.loadedStateBytes.cell(labels);
    this.deleteTime = v.deleteTime.cell(labels);
    this.deleteFailures = v.deleteFailed.cell(labels);
  }

  override recoveryFailed(): void {
    this.recoveryFailures.value++;
  }

  /** A recovery read a stored state. */
  stateLoaded(manifest: string, payload: Uint8Array): void {
    this.loadedStates.value++;
    this.loadedStateBytes.value += anySize(manifest, payload);
  }

  /** A command's new state, whose write began at `startedAt`, is stored. */
  statePersisted(state: Any | null | undefined, startedAt: number): void {
    this.persistCompleted(startedAt);
    this.persistedStates.value++;
    this.persistedStateBytes.value += anySize(state?.type_url ?? '', state?.value ?? EMPTY_BYTES);
  }

  persistFailed(): void {
    this.persistFailures.value++;
  }

  /** A command's delete, begun at `startedAt`, is done. */
  deleteCompleted(startedAt: number): void {
    this.v.deleteTime.observe(this.deleteTime, (this.now() - startedAt) / 1000);
  }

  deleteFailed(): void {
    this.deleteFailures.value++;
  }
}

/**
 * The entity metrics of one registry (the one `/metrics` renders): each kind's metrics are
 * registered with its first entity type. Without a registry nothing is exported (the entities
 * record all the same, into metrics no one reads).
 */
export class EntityMetrics {
  private eventSourcedMetrics: EventSourcedMetrics | undefined;
  private valueEntityMetrics: ValueEntityMetrics | undefined;

  /** `clock` (ms, monotonic) is `now` except in tests. */
  constructor(
    private readonly registry?: Registry,
    private readonly clock: () => number = now,
  ) {}

  /** The instrumentation of the event-sourced entity type `entityName` (its persistence id); once per type. */
  eventSourced(entityName: string): EventSourcedInstrumentation {
    this.eventSourcedMetrics ??= new EventSourcedMetrics(this.registry);
    return new EventSourcedInstrumentation(this.eventSourcedMetrics, entityName, this.clock);
  }

  /** The instrumentation of the value entity type `entityName` (its persistence id); once per type. */
  valueEntity(entityName: string): ValueEntityInstrumentation {
    this.valueEntityMetrics ??= new ValueEntityMetrics(this.registry);
    return new ValueEntityInstrumentation(this.valueEntityMetrics, entityName, this.clock);
  }
}
