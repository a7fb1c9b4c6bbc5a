/**
 * The durable-state behaviour (after Akka Typed's `DurableStateBehavior`): the entity's whole
 * state is one value in the key-value store under its persistenceId, replaced on every
 * persist. It owns loading the value and its revision at start, and the optimistic write:
 * each upsert or delete states the revision this instance last saw, so a second writer is
 * caught by storage. It must not retry a write, or go on after a revision conflict or a
 * storage failure (the runtime recovers a new instance).
 */
import type { EntityBehavior, EntityContext, EntityStorage } from '../types.js';
import type { Deletion, Effect } from './effect.js';
import { withRecoveryPermit } from '../recovery-permits.js';
import { BehaviorInstance, recovering, type CommandContext } from './instance.js';
import { jsonSerializer, type StateSerializer } from './serializer.js';

/**
 * What a durable-state command handler returns: `Effect.persist(newState)`, `Effect.delete()`,
 * or any effect that persists nothing. For a state that is an array, give the type
 * (`Effect.persist<State>(next)`), or the array is read as a list of events.
 */
export type DurableStateEffect<S, R> = Effect<S | Deletion, S, R>;

/** How to build a durable-state entity type. */
export interface DurableStateSpec<C, S, R> {
  /** The state of an entity with no stored value (never stored, or deleted). */
  emptyState: S;
  /**
   * Decides what a command does; must not mutate `state`. May be async. A throw, or
   * `Effect.fail`, fails the command with `CommandFailedError` and stores nothing.
   */
  commandHandler: (state: S, command: C, ctx: CommandContext) => DurableStateEffect<S, R> | Promise<DurableStateEffect<S, R>>;
  /** State to bytes and back; default JSON. */
  serializer?: StateSerializer<S>;
}

/**
 * An entity type whose state is stored whole, under key = persistenceId.
 *
 * - `start`: reads the value and its revision (none: `emptyState`, revision 0); a value that
 *   does not decode, or storage trouble, rejects with `EntityRecoveryError`.
 * - `Effect.persist(newState)`: `upsert(key, value, expectedRevision)`; once it resolves the
 *   state is `newState`, then side effects and reply. `Effect.delete()`: `delete(key,
 *   expectedRevision)`; the state becomes `emptyState`. A serializer that throws fails the
 *   command (`CommandFailedError`) with nothing stored. Any storage error (a
 *   `RevisionConflictError`: another writer moved the value on; a store failure: the outcome
 *   is unknown) fails the command with `EntityStoppedError`, and the instance refuses every
 *   later command with `EntityStoppedError`.
 */
export function durableState<C, S, R>(spec: DurableStateSpec<C, S, R>): EntityBehavior<C, R> {
  const serializer = spec.serializer ?? jsonSerializer<never, S>();
  return {
    async start(context, storage) {
      const load = async (step: { at?: string }) => {
        step.at = 'reading the stored value';
        const value = await storage.keyValue.get(context.persistenceId);
        if (value === undefined) return { state: spec.emptyState, revision: 0 };
        step.at = `decoding the value at revision ${value.revision}`;
        return { state: serializer.decodeState(value.payload), revision: value.revision };
      };
      const stored = await recovering(context, (step) => withRecoveryPermit(storage, () => load(step)));
      return new DurableStateInstance(spec, serializer, context, storage, stored.state, stored.revision);
    },
  };
}

class DurableStateInstance<C, S, R> extends BehaviorInstance<C, R> {
  constructor(
    private readonly spec: DurableStateSpec<C, S, R>,
    private readonly serializer: StateSerializer<S>,
    context: EntityContext,
    private readonly storage: EntityStorage,
    private state: S,
    /** The stored revision as this instance last saw it (0: no value). */
    private revision: number,
  ) {
    super(context);
  }

  protected async process(command: C): Promise<R> {
    const effect = await this.decideEffect(() => this.spec.commandHandler(this.state, command, this.commandContext));
    const { action } = effect;
    if (action.kind === 'persist') await this.upsert(action.value as S);
    else if (action.kind === 'delete') await this.delete();
    return this.complete(effect, this.state);
  }

  private async upsert(state: S): Promise<void> {
    const payload = await this.decide(() => this.serializer.encodeState(state), 'the serializer');
    const manifest = this.serializer.stateManifest ?? 'state';
    this.revision = await this.write('storing the state', () =>
      this.storage.keyValue.upsert(this.context.persistenceId, { payload, manifest }, this.revision),
    );
    this.state = state;
  }

  private async delete(): Promise<void> {
    await this.write('deleting the state', () => this.storage.keyValue.delete(this.context.persistenceId, this.revision));
    this.revision = 0;
    this.state = this.spec.emptyState;
  }

  /** Any storage error finishes the instance: a conflict means another writer, a failure an unknown outcome. */
  private async write<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw this.breakWith(what, err);
    }
  }
}
