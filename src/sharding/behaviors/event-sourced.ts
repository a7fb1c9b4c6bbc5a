/**
 * The event-sourced behaviour (after Akka Typed's `EventSourcedBehavior`): the state is the
 * fold of the entity's events; a command handler decides, an event handler applies. It owns
 * recovery (latest snapshot, then the events after it, streamed), the atomic write of a
 * command's events with the expected seqNrs, the order "events persisted before the state
 * advances and the reply is computed", periodic snapshots, and the mapping of the journal's
 * three errors. It must not retry a write or go on after a sequence conflict or a storage
 * failure (the runtime recovers a new instance), and takes every timestamp from the context's
 * clock.
 */
import { describeError } from '../../core/index.js';
import { JournalRejectedError, type PersistentRepr } from '../../persistence/index.js';
import { CommandFailedError } from '../errors.js';
import type { EntityBehavior, EntityContext, EntityStorage } from '../types.js';
import { Effect } from './effect.js';
import { withRecoveryPermit } from '../recovery-permits.js';
import { BehaviorInstance, recovering, type CommandContext } from './instance.js';
import { jsonSerializer, type EventSerializer } from './serializer.js';

/** How to build an event-sourced entity type. */
export interface EventSourcedSpec<C, E, S, R> {
  /** The state of an entity with no events (and no snapshot). */
  emptyState: S;
  /**
   * Decides what a command does; must not mutate `state`. May be async. A throw, or
   * `Effect.fail`, fails the command with `CommandFailedError` and persists nothing.
   */
  commandHandler: (state: S, command: C, ctx: CommandContext) => Effect<E, S, R> | Promise<Effect<E, S, R>>;
  /** Folds one event into the state; pure (it runs again on every recovery). */
  eventHandler: (state: S, event: E) => S;
  /** Save a snapshot after each write that crosses a multiple of this many events (default: never). */
  snapshotEvery?: number;
  /** Events and state to bytes and back; default JSON (`jsonSerializer`). */
  serializer?: EventSerializer<E, S>;
  /** Tags written on each event (for `currentEventsByTag`); default none. */
  tagger?: (event: E) => string[];
}

/**
 * An entity type whose state is recovered from its events.
 *
 * - `start`: loads the latest snapshot (if any), replays the events after it in seqNr order,
 *   and continues numbering from the journal's highest seqNr. Any failure (a corrupt record, an
 *   event or snapshot that does not decode, an event handler that throws, storage trouble)
 *   rejects with `EntityRecoveryError` naming the entity.
 * - `handle`: the command handler's effect is carried out. `Effect.persist(events)` is ONE
 *   atomic `journal.append` with consecutive seqNrs from the highest + 1, `writerId` from the
 *   context and one `context.clock.now()` timestamp; only once it resolves does the state
 *   advance, then the side effects run and the reply is computed. Outcomes of the write:
 *   `JournalRejectedError` → the command fails with `CommandFailedError` (cause attached),
 *   state unchanged, the entity goes on; any other error (`SequenceConflictError`,
 *   `JournalFailureError`, a closed store) → the command fails with `EntityStoppedError` and
 *   the instance refuses every later command with `EntityStoppedError` (see `BehaviorInstance`).
 *   The events are folded and encoded before the write, so an event handler or serializer
 *   that throws also fails the command with nothing persisted.
 * - Snapshots: after a write that crosses a multiple of `snapshotEvery`, the state is saved as
 *   of the write's last seqNr, in the background; a failed save is logged and changes nothing.
 *   `stop()` waits for pending saves.
 */
export function eventSourced<C, E, S, R>(spec: EventSourcedSpec<C, E, S, R>): EntityBehavior<C, R> {
  const { snapshotEvery } = spec;
  if (snapshotEvery !== undefined && !(Number.isSafeInteger(snapshotEvery) && snapshotEvery > 0)) {
    throw new TypeError(`snapshotEvery must be a positive integer, got ${snapshotEvery}`);
  }
  const serializer = spec.serializer ?? jsonSerializer<E, S>();
  return {
    async start(context, storage) {
      const replay = (step: { at?: string }) => recover(spec, serializer, context, storage, step);
      const recovered = await recovering(context, (step) => withRecoveryPermit(storage, () => replay(step)));
      return new EventSourcedInstance(spec, serializer, context, storage, recovered.state, recovered.seqNr);
    },
  };
}

async function recover<C, E, S, R>(
  spec: EventSourcedSpec<C, E, S, R>,
  serializer: EventSerializer<E, S>,
  context: EntityContext,
  storage: EntityStorage,
  step: { at?: string },
): Promise<{ state: S; seqNr: number }> {
  const { persistenceId } = context;
  // Read before replaying: events deleted up to the highest are gone, but their seqNrs are taken.
  step.at = 'reading the highest seqNr';
  const highest = await storage.journal.highestSeqNr(persistenceId);
  step.at = 'loading the latest snapshot';
  const snapshot = await storage.snapshots.loadLatest(persistenceId);
  let state = spec.emptyState;
  let seqNr = 0;
  if (snapshot) {
    step.at = `the snapshot at seqNr ${snapshot.metadata.seqNr}`;
    state = serializer.decodeState(snapshot.payload);
    seqNr = snapshot.metadata.seqNr;
  }
  step.at = `replaying events after seqNr ${seqNr}`;
  for await (const repr of storage.journal.replay(persistenceId, { fromSeqNr: seqNr + 1 })) {
    step.at = `event seqNr ${repr.seqNr} (${repr.manifest || 'no manifest'})`;
    state = spec.eventHandler(state, serializer.decodeEvent(repr.payload, repr.manifest));
    seqNr = repr.seqNr;
    step.at = `replaying events after seqNr ${seqNr}`;
  }
  return { state, seqNr: Math.max(seqNr, highest) };
}

class EventSourcedInstance<C, E, S, R> extends BehaviorInstance<C, R> {
  private snapshotting: Promise<void> = Promise.resolve();

  constructor(
    private readonly spec: EventSourcedSpec<C, E, S, R>,
    private readonly serializer: EventSerializer<E, S>,
    context: EntityContext,
    private readonly storage: EntityStorage,
    private state: S,
    /** The highest seqNr stored for the entity, as far as this instance knows. */
    private seqNr: number,
  ) {
    super(context);
  }

  protected async process(command: C): Promise<R> {
    const effect = await this.decideEffect(() => this.spec.commandHandler(this.state, command, this.commandContext));
    const { action } = effect;
    if (action.kind === 'delete') {
      throw new CommandFailedError(`Effect.delete() is for durable-state entities; ${this.context.persistenceId} is event sourced`);
    }
    if (action.kind === 'persist') {
      const events = Effect.eventsOf(action);
      if (events.length > 0) await this.persist(events);
    }
    return this.complete(effect, this.state);
  }

  protected override async release(): Promise<void> {
    await this.snapshotting;
  }

  private async persist(events: readonly E[]): Promise<void> {
    const { persistenceId } = this.context;
    const timestamp = this.context.clock.now();
    const next = await this.decide(() => this.prepare(events, timestamp), 'the event handler or serializer');
    try {
      await this.storage.journal.append({ persistenceId, events: next.reprs });
    } catch (err) {
      if (err instanceof JournalRejectedError) {
        throw new CommandFailedError(`the events of ${persistenceId} were rejected: ${describeError(err)}`, { cause: err });
      }
      throw this.breakWith('writing events', err);
    }
    const before = this.seqNr;
    this.state = next.state;
    this.seqNr += next.reprs.length;
    this.maybeSnapshot(before, timestamp);
  }

  /** The write and the state after it, computed before anything is stored. */
  private prepare(events: readonly E[], timestamp: number): { reprs: PersistentRepr[]; state: S } {
    const { persistenceId, writerId } = this.context;
    const { serializer, spec } = this;
    let state = this.state;
    const reprs = events.map((event, i): PersistentRepr => {
      state = spec.eventHandler(state, event);
      const { payload, manifest } = serializer.encodeEvent(event);
      const tags = spec.tagger?.(event) ?? [];
      return { persistenceId, seqNr: this.seqNr + i + 1, payload, manifest, writerId, timestamp, tags };
    });
    return { reprs, state };
  }

  private maybeSnapshot(before: number, timestamp: number): void {
    const every = this.spec.snapshotEvery;
    if (every === undefined || Math.floor(this.seqNr / every) === Math.floor(before / every)) return;
    const { persistenceId, logger } = this.context;
    const seqNr = this.seqNr;
    const manifest = this.serializer.stateManifest ?? 'state';
    const failed = (err: unknown) => logger.warn({ persistenceId, seqNr, err: describeError(err) }, 'snapshot not saved');
    let payload: Uint8Array;
    try {
      payload = this.serializer.encodeState(this.state);
    } catch (err) {
      failed(err);
      return;
    }
    const save = this.storage.snapshots.save({ persistenceId, seqNr, timestamp, manifest }, payload).catch(failed);
    this.snapshotting = Promise.all([this.snapshotting, save]).then(() => undefined);
  }
}
