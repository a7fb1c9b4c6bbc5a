/**
 * What every behaviour's running instance shares: commands handled one at a time in arrival
 * order (the runtime promises it; the queue here makes it true for any caller), the rule that
 * a broken or stopped instance refuses commands with `EntityStoppedError`, the mapping of a
 * throwing handler to `CommandFailedError`, and the steps after an effect is durable (side
 * effects, reply, stop request). It must not touch storage: each behaviour does that itself.
 *
 * Instance life (a command may only start in `running`):
 *
 *   running ──(storage conflict or failure)──▶ broken   (refuses commands; the runtime recovers a new instance)
 *   running ──(stop())─────────────────────────▶ stopped  (refuses commands)
 */
import { CloudstateError, describeError } from '../../core/index.js';
import { CommandFailedError, EntityStoppedError } from '../errors.js';
import type { EntityContext, EntityInstance } from '../types.js';
import { Effect } from './effect.js';

/** What a command handler is told besides the state and the command. */
export interface CommandContext {
  readonly entityId: string;
}

/**
 * `start` could not recover the entity (a corrupt or undecodable event or snapshot, an event
 * handler that threw, storage trouble). The message names the entity; `cause` is the reason.
 * Code `ERR_SHARDING_RECOVERY_FAILED`.
 */
export class EntityRecoveryError extends CloudstateError {
  /** @param at where recovery stopped, e.g. `event seqNr 7`, when known */
  constructor(context: EntityContext, cause: unknown, at?: string) {
    super(
      'ERR_SHARDING_RECOVERY_FAILED',
      `recovery of entity ${context.entityId} of type ${context.typeName} (${context.persistenceId}) failed` +
        `${at === undefined ? '' : ` at ${at}`}: ${describeError(cause)}`,
      { cause },
    );
  }
}

/**
 * Runs `recover`, turning any error into an `EntityRecoveryError` naming the entity. `step`
 * tells where recovery is (updated by `recover` as it goes) for the message.
 */
export async function recovering<T>(context: EntityContext, recover: (step: { at?: string }) => Promise<T>): Promise<T> {
  const step: { at?: string } = {};
  try {
    return await recover(step);
  } catch (err) {
    throw new EntityRecoveryError(context, err, step.at);
  }
}

/**
 * The base of every behaviour's instance. Subclasses implement `process` (one command) and may
 * override `release` (called once by `stop`, after the last command finished).
 */
export abstract class BehaviorInstance<C, R> implements EntityInstance<C, R> {
  private tail: Promise<unknown> = Promise.resolve();
  private brokenBy: EntityStoppedError | undefined;
  private stopped = false;
  private stopRequested = false;
  protected readonly commandContext: CommandContext;

  constructor(protected readonly context: EntityContext) {
    this.commandContext = { entityId: context.entityId };
  }

  /**
   * True once a command's effect ended with `thenStop()` / `Effect.stop()`: the entity asks the
   * runtime to passivate it (call `stop()`) after that reply. Until it is stopped the instance
   * keeps handling commands normally (its state still matches storage), so a runtime that does
   * not look at this flag loses nothing but the early passivation.
   */
  get wantsStop(): boolean {
    return this.stopRequested;
  }

  /** True when a storage conflict or failure finished this instance: it refuses every command. */
  get broken(): boolean {
    return this.brokenBy !== undefined;
  }

  handle(command: C): Promise<R> {
    const run = this.tail.then(() => this.admit(command));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Waits for the command in progress, then releases the instance; later commands get `EntityStoppedError`. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.tail;
    await this.release();
  }

  /** Handles one command; only ever called one at a time, on a running instance. */
  protected abstract process(command: C): Promise<R>;

  /** Frees what the instance holds (pending writes it started); called once, by `stop`. */
  protected async release(): Promise<void> {}

  /**
   * Calls user code (`what`: 'the command handler', 'a side effect'): a throw, other than a
   * `CommandFailedError`, becomes a `CommandFailedError` naming the entity, with the cause.
   */
  protected async decide<T>(run: () => T | Promise<T>, what = 'the command handler'): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof CommandFailedError) throw err;
      throw new CommandFailedError(`${what} of ${this.context.persistenceId} threw: ${describeError(err)}`, { cause: err });
    }
  }

  /** Calls the command handler for an effect; `Effect.fail` and a non-effect become `CommandFailedError`. */
  protected async decideEffect<E, S>(run: () => Effect<E, S, R> | Promise<Effect<E, S, R>>): Promise<Effect<E, S, R>> {
    const effect = await this.decide(run);
    if (!(effect instanceof Effect)) {
      throw new CommandFailedError(`the command handler of ${this.context.persistenceId} returned ${describeError(effect)}, not an Effect`);
    }
    if (effect.action.kind === 'fail') throw new CommandFailedError(effect.action.message);
    return effect;
  }

  /**
   * The instance cannot go on (its view of storage may be stale, or the outcome of a write is
   * unknown): every later command is refused. Returns the error for the current command.
   */
  protected breakWith(what: string, cause: unknown): EntityStoppedError {
    const err = new EntityStoppedError(`${what} for ${this.context.persistenceId}: ${describeError(cause)}; the entity must recover`, { cause });
    this.brokenBy = err;
    return err;
  }

  /**
   * After the effect's action is durable and the state advanced to `state`: the side effects in
   * order, then the reply, then the stop request. A throwing side effect or reply fails the
   * command (`CommandFailedError`); what was persisted stays, and the entity goes on.
   */
  protected async complete<S>(effect: Effect<unknown, S, R>, state: S): Promise<R> {
    if (effect.stopAfter) this.stopRequested = true;
    return this.decide(async () => {
      for (const run of effect.sideEffects) await run(state);
      return effect.replyWith ? effect.replyWith(state) : (undefined as R);
    }, 'a side effect or the reply');
  }

  private async admit(command: C): Promise<R> {
    if (this.brokenBy) {
      throw new EntityStoppedError(`${this.context.persistenceId} refuses commands after an earlier storage error; it must recover`, {
        cause: this.brokenBy,
      });
    }
    if (this.stopped) throw new EntityStoppedError(`${this.context.persistenceId} was stopped (passivated or handed off)`);
    return this.process(command);
  }
}
