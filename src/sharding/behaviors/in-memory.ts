/**
 * The in-memory behaviour: the state lives only in the running instance. It owns nothing but
 * the state and the handler call; it must not touch storage. Passivation, hand-off to another
 * node, a crash or a restart after a failure all lose the state: the next instance starts
 * again from `initial`. For caches, sessions and other state that can be rebuilt.
 */
import type { EntityBehavior, EntityContext } from '../types.js';
import { BehaviorInstance, type CommandContext } from './instance.js';

/** What `receive` returns: the next state and the reply. */
export interface InMemoryOutcome<S, R> {
  state: S;
  reply: R;
}

/** How to build an in-memory entity type. */
export interface InMemorySpec<C, S, R> {
  /**
   * The state a new instance starts with, or a function of the entity id that makes it. (A
   * state that is itself a function must be given through such a function.)
   */
  initial: S | ((entityId: string) => S);
  /**
   * Handles one command: returns the next state and the reply; may be async. A throw fails the
   * command with `CommandFailedError` and leaves the state as it was.
   */
  receive: (state: S, command: C, ctx: CommandContext) => InMemoryOutcome<S, R> | Promise<InMemoryOutcome<S, R>>;
}

/**
 * An entity type whose state is kept in memory only and lost when the instance stops. Commands
 * are handled one at a time; after `stop()` the instance refuses commands with
 * `EntityStoppedError`. It never breaks for storage reasons.
 */
export function inMemory<C, S, R>(spec: InMemorySpec<C, S, R>): EntityBehavior<C, R> {
  const { initial } = spec;
  return {
    async start(context) {
      const state = typeof initial === 'function' ? (initial as (entityId: string) => S)(context.entityId) : initial;
      return new InMemoryInstance(context, spec, state);
    },
  };
}

class InMemoryInstance<C, S, R> extends BehaviorInstance<C, R> {
  constructor(
    context: EntityContext,
    private readonly spec: InMemorySpec<C, S, R>,
    private state: S,
  ) {
    super(context);
  }

  protected async process(command: C): Promise<R> {
    const outcome = await this.decide(() => this.spec.receive(this.state, command, this.commandContext), 'receive');
    this.state = outcome.state;
    return outcome.reply;
  }
}
