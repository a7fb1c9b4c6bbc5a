/**
 * Event-sourced entities (`cloudstate.eventsourced.EventSourced`), after the reference proxy's
 * `EventSourcedEntity`: a sharding behaviour whose instance recovers the user function's
 * entity over its `handle` stream and makes each reply's events durable before the client is
 * answered.
 *
 * - Journal: persistence id `<persistence_id>|<entity_id>` (sharding's `EntityContext.persistenceId`,
 *   the type name being the entity's `persistence_id`); each event stored as the `Any`'s
 *   bytes with its `type_url` as the manifest, tagged with the `persistence_id` (for event-log
 *   eventing).
 * - Recovery: the latest snapshot → `init{service_name, entity_id, snapshot{snapshot_sequence,
 *   snapshot}}` (or `init` without one), then every journal event after it as
 *   `event{sequence, payload}`. Only then the first command.
 * - A reply's `events` are one atomic write with the next sequence numbers; then its `snapshot`
 *   (if any) is saved at the last event's sequence number (a failed save is logged: the events
 *   are what counts); then the reply goes to the client. A failed write stops the instance
 *   (`EntityStoppedError`): sharding recovers a new one.
 */
import { describeError } from '../../core/index.js';
import type { Any, Command, EventSourcedReply, EventSourcedStreamIn } from '../../protocol/index.js';
import type { EntityBehavior, EntityContext, EntityStorage } from '../../sharding/index.js';
import { EntityStoppedError, withRecoveryPermit } from '../../sharding/index.js';
import type { PersistentRepr } from '../../persistence/index.js';
import type { ProtocolStream } from '../user-function.js';
import { EntityMetrics } from './instrumentation.js';
import type { EventSourcedInstrumentation } from './instrumentation.js';
import { EMPTY_BYTES } from './messages.js';
import type { EntityCommand, UserFunctionReply } from './messages.js';
import { StreamEntity } from './stream-entity.js';
import type { EntitySupportOptions, StreamOut } from './stream-entity.js';

/** The sharding behaviour of one event-sourced service. */
export function eventSourcedBehavior(o: EntitySupportOptions): EntityBehavior<EntityCommand, UserFunctionReply> {
  const metrics = (o.metrics ?? new EntityMetrics()).eventSourced(o.service.persistenceId);
  return {
    async start(context, storage) {
      if (!storage) throw new Error(`event-sourced entity ${context.persistenceId} needs storage: give Sharding a storage`);
      return new EventSourcedEntity(o, context, storage, metrics).start();
    },
  };
}

class EventSourcedEntity extends StreamEntity<EventSourcedStreamIn, EventSourcedReply, EventSourcedInstrumentation> {
  /** The highest sequence number stored for the entity. */
  private seqNr = 0;

  constructor(
    o: EntitySupportOptions,
    context: EntityContext,
    private readonly storage: EntityStorage,
    metrics: EventSourcedInstrumentation,
  ) {
    super(o, context, 'entity', true, metrics);
  }

  protected async connect(): Promise<ProtocolStream<EventSourcedStreamIn, StreamOut<EventSourcedReply>>> {
    const { persistenceId, entityId } = this.context;
    return withRecoveryPermit(this.storage, () => this.recover(persistenceId, entityId));
  }

  /** Opens the stream and sends it the snapshot and the events after it (within a recovery permit). */
  private async recover(persistenceId: string, entityId: string): Promise<ProtocolStream<EventSourcedStreamIn, StreamOut<EventSourcedReply>>> {
    const { journal, snapshots } = this.storage;
    // Storage first: a recovery that fails opens no stream.
    const highest = await journal.highestSeqNr(persistenceId);
    const snapshot = await snapshots.loadLatest(persistenceId);
    const stream = this.o.client.openEventSourced();
    try {
      stream.send({
        init: {
          service_name: this.o.service.name,
          entity_id: entityId,
          snapshot: snapshot ? { snapshot_sequence: snapshot.metadata.seqNr, snapshot: { type_url: snapshot.metadata.manifest, value: snapshot.payload } } : undefined,
        },
      });
      if (snapshot) this.metrics.snapshotLoaded(snapshot.metadata.manifest, snapshot.payload);
      let seqNr = snapshot?.metadata.seqNr ?? 0;
      // Nothing after the snapshot (or no events at all): no journal read.
      if (highest > seqNr) {
        for await (const event of journal.replay(persistenceId, { fromSeqNr: seqNr + 1 })) {
          stream.send({ event: { sequence: event.seqNr, payload: { type_url: event.manifest, value: event.payload } } });
          this.metrics.eventLoaded(event.manifest, event.payload);
          seqNr = event.seqNr;
        }
      }
      this.seqNr = Math.max(seqNr, highest);
    } catch (err) {
      stream.cancel();
      throw err;
    }
    return stream;
  }

  protected commandMessage(command: Command): EventSourcedStreamIn {
    return { command };
  }

  protected async persist(reply: EventSourcedReply, repliedAt: number): Promise<UserFunctionReply | undefined> {
    const events = reply.events ?? [];
    if (events.length === 0) return undefined;
    const { persistenceId, writerId, clock } = this.context;
    const timestamp = clock.now();
    const tags = [this.o.service.persistenceId];
    const reprs = events.map(
      (event: Any, i): PersistentRepr => ({
        persistenceId,
        seqNr: this.seqNr + i + 1,
        payload: event.value ?? EMPTY_BYTES,
        manifest: event.type_url ?? '',
        writerId,
        timestamp,
        tags,
      }),
    );
    try {
      await this.storage.journal.append({ persistenceId, events: reprs });
    } catch (err) {
      this.log.error({ err: describeError(err) }, 'Unexpected entity failure - the events could not be persisted');
      this.closeStream();
      this.metrics.entityFailed();
      throw new EntityStoppedError(`the events of ${persistenceId} could not be persisted: ${describeError(err)}`, { cause: err });
    }
    this.metrics.eventsPersisted(events, repliedAt);
    this.seqNr += reprs.length;
    const snapshot = reply.snapshot;
    if (snapshot) {
      const metadata = { persistenceId, seqNr: this.seqNr, timestamp, manifest: snapshot.type_url ?? '' };
      await this.storage.snapshots.save(metadata, snapshot.value ?? EMPTY_BYTES).then(
        () => this.metrics.snapshotPersisted(snapshot),
        (err: unknown) => {
          this.log.warn({ seqNr: this.seqNr, err: describeError(err) }, 'snapshot not saved (recovery replays the events instead)');
        },
      );
    }
    return undefined;
  }
}
