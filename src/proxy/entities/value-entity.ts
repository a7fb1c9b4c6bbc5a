/**
 * Value entities (`cloudstate.valueentity.ValueEntity`), after the reference proxy's
 * `valueentity/Entity`: a sharding behaviour whose instance reads the entity's state from the
 * key-value store, sends `init{service_name, entity_id, state{value?}}` (`state` always set,
 * empty when nothing is stored, as the reference proxy and the TCK expect), then carries out
 * each reply's `state_action` before the client is answered: `update` upserts, `delete`
 * deletes.
 *
 * Key scheme: the state of entity `e` of a service with persistence id `p` lives under the key
 * `p|e` (sharding's `EntityContext.persistenceId`, as for event-sourced journals), its
 * `type_url` as the manifest. Writes state the revision this instance last saw, so a second
 * writer is refused by storage. A failed store operation fails the command with
 * `Unexpected Value entity failure` and the entity re-reads its state before the next command.
 */
import { describeError } from '../../core/index.js';
import type { Command, ValueEntityReply, ValueEntityStreamIn } from '../../protocol/index.js';
import type { EntityBehavior, EntityContext, EntityStorage } from '../../sharding/index.js';
import { withRecoveryPermit } from '../../sharding/index.js';
import type { ProtocolStream } from '../user-function.js';
import { EntityMetrics } from './instrumentation.js';
import type { ValueEntityInstrumentation } from './instrumentation.js';
import { EMPTY_BYTES } from './messages.js';
import type { EntityCommand, UserFunctionReply } from './messages.js';
import { StreamEntity } from './stream-entity.js';
import type { EntitySupportOptions, StreamOut } from './stream-entity.js';

/** The sharding behaviour of one value-entity service. */
export function valueEntityBehavior(o: EntitySupportOptions): EntityBehavior<EntityCommand, UserFunctionReply> {
  const metrics = (o.metrics ?? new EntityMetrics()).valueEntity(o.service.persistenceId);
  return {
    async start(context, storage) {
      if (!storage) throw new Error(`value entity ${context.persistenceId} needs storage: give Sharding a storage`);
      return new ValueEntity(o, context, storage, metrics).start();
    },
  };
}

class ValueEntity extends StreamEntity<ValueEntityStreamIn, ValueEntityReply, ValueEntityInstrumentation> {
  /** The stored revision (0: nothing stored). */
  private revision = 0;

  constructor(
    o: EntitySupportOptions,
    context: EntityContext,
    private readonly storage: EntityStorage,
    metrics: ValueEntityInstrumentation,
  ) {
    super(o, context, 'Value entity', false, metrics);
  }

  private get key(): string {
    return this.context.persistenceId;
  }

  protected async connect(): Promise<ProtocolStream<ValueEntityStreamIn, StreamOut<ValueEntityReply>>> {
    const stored = await withRecoveryPermit(this.storage, () => this.storage.keyValue.get(this.key));
    this.revision = stored?.revision ?? 0;
    if (stored) this.metrics.stateLoaded(stored.manifest, stored.payload);
    const stream = this.o.client.openValueEntity();
    stream.send({
      init: {
        service_name: this.o.service.name,
        entity_id: this.context.entityId,
        state: stored ? { value: { type_url: stored.manifest, value: stored.payload } } : {},
      },
    });
    return stream;
  }

  protected commandMessage(command: Command): ValueEntityStreamIn {
    return { command };
  }

  protected async persist(reply: ValueEntityReply, repliedAt: number): Promise<UserFunctionReply | undefined> {
    const action = reply.state_action;
    try {
      if (action?.update) {
        const value = action.update.value;
        this.revision = await this.storage.keyValue.upsert(this.key, { payload: value?.value ?? EMPTY_BYTES, manifest: value?.type_url ?? '' }, this.revision);
        this.metrics.statePersisted(value, repliedAt);
      } else if (action?.delete) {
        if (this.revision > 0) await this.storage.keyValue.delete(this.key, this.revision);
        this.revision = 0;
        this.metrics.deleteCompleted(repliedAt);
      }
    } catch (err) {
      if (action?.update) this.metrics.persistFailed();
      else this.metrics.deleteFailed();
      return this.crash('failure', `the state of ${this.key} could not be stored: ${describeError(err)}`);
    }
    return undefined;
  }
}
