/**
 * What event-sourced and value entities share (after the reference proxy's entity actors): one
 * `handle` stream to the user function per running entity, opened and initialised (recovery)
 * before the first command; commands sent one at a time (sharding guarantees it) with ids
 * counting from 1 on each stream; each reply checked against the command it answers.
 *
 * When the stream goes wrong the entity "crashes" as the reference proxy's does: the command
 * at hand fails with `Unexpected <kind> failure` (a stream-level failure, a reply to another
 * command, an empty message) or `Unexpected <kind> termination` (the user function ended the
 * stream, or it broke under the command: the user function crashed mid-command), the stream is
 * closed, and the next command opens a new one, with recovery. For event-sourced entities a
 * `client_action.failure` with `restart = true` also closes the stream, and a new one is
 * opened and recovered at once (the TCK expects the replay before the next command). A user
 * function that cannot be reached fails the command with `UserFunctionCallError` (UNAVAILABLE)
 * and the next command tries again (./stream-end.ts decides which of the two a stream's end
 * is). A failed recovery throws `EntityRecoveryError` (the next command recovers again); a
 * failed write of a reply's effects throws `EntityStoppedError` (sharding then starts a new
 * instance).
 *
 * ```
 *   (no stream) ──command──► connect (init, recovery) ──► open ──reply──► open
 *        ▲                            ▲                      │
 *        │                            └── failure with restart (event sourced: at once)
 *        └──────────── crash / stop ─────────────────────────┘  (stream half-closed)
 * ```
 */
import { describeError } from '../../core/index.js';
import type { Logger, Scheduler } from '../../core/index.js';
import { int64ToNumber } from '../../protocol/index.js';
import type { Command, Failure, Int64 } from '../../protocol/index.js';
import type { EntityContext, EntityInstance } from '../../sharding/index.js';
import { EntityStoppedError } from '../../sharding/index.js';
import type { ServiceModel } from '../model.js';
import { UserFunctionCallError } from '../user-function.js';
import type { ProtocolStream, StreamItem, UserFunctionClient } from '../user-function.js';
import { EntityRecoveryError } from './errors.js';
import type { EntityInstrumentation, EntityMetrics } from './instrumentation.js';
import { failureReply } from './messages.js';
import type { EntityCommand, UserFunctionReply } from './messages.js';
import { streamEndOutcome } from './stream-end.js';

/** What an entity support needs besides sharding's context and storage. */
export interface EntitySupportOptions {
  readonly service: ServiceModel;
  readonly client: UserFunctionClient;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  /** A command the user function has not answered within this many ms crashes the entity. */
  readonly relayTimeoutMs: number;
  /** After a half-close, how long the user function has to end its side before the stream is cancelled, ms. */
  readonly closeGraceMs?: number;
  /** Where the entities' metrics go (./instrumentation.ts); without, they are recorded nowhere. */
  readonly metrics?: EntityMetrics;
}

/** The parts of a stream-out message both entity types have. */
export interface StreamOut<Reply> {
  reply?: Reply | null;
  failure?: Failure | null;
}

const TIMEOUT = Symbol('timeout');

export abstract class StreamEntity<In, Reply extends { command_id?: Int64 }, Metrics extends EntityInstrumentation = EntityInstrumentation> implements EntityInstance<EntityCommand, UserFunctionReply> {
  private stream: ProtocolStream<In, StreamOut<Reply>> | undefined;
  /** A restart's new stream, being recovered. */
  private reconnecting: Promise<ProtocolStream<In, StreamOut<Reply>>> | undefined;
  private commandId = 0;
  /** The user function answered on `stream`: it is known to have reached a live user function. */
  private answered = false;
  /** When the instance started (the instrumentation's clock); undefined once it stopped. */
  private activeSince: number | undefined;
  protected readonly log: Logger;

  constructor(
    protected readonly o: EntitySupportOptions,
    protected readonly context: EntityContext,
    /** `entity` or `Value entity`: the word in the failure descriptions clients see. */
    private readonly kind: string,
    /** Whether `failure.restart` restarts the entity (event sourced: yes; value entities: the reference proxy ignores it). */
    private readonly restartOnFailure: boolean,
    protected readonly metrics: Metrics,
  ) {
    this.log = o.logger.child({ service: o.service.name, entityId: context.entityId });
  }

  /** Opens a stream and sends the init (and, for event sourcing, the replay). Throws on a storage error. */
  protected abstract connect(): Promise<ProtocolStream<In, StreamOut<Reply>>>;
  /** The stream-in message carrying a command. */
  protected abstract commandMessage(command: Command): In;
  /**
   * Makes the reply's effects durable (events, state). Throws `EntityStoppedError`, or returns a
   * failure to answer with. `repliedAt`: when the reply came (the instrumentation's clock).
   */
  protected abstract persist(reply: Reply, repliedAt: number): Promise<UserFunctionReply | undefined>;

  /** Connects once, on the first command (so a passivated entity costs nothing until used). */
  async start(): Promise<this> {
    this.activeSince = this.metrics.activated();
    try {
      await this.ensureStream();
    } catch (err) {
      this.stopped(); // no instance: sharding forgets it
      throw err;
    }
    return this;
  }

  async handle(command: EntityCommand): Promise<UserFunctionReply> {
    const metrics = this.metrics;
    const receivedAt = metrics.commandReceived();
    try {
      const recovering = this.stream === undefined || this.stream.done;
      const stream = await this.ensureStream();
      const id = ++this.commandId;
      const sentAt = recovering ? metrics.now() : receivedAt;
      stream.send(this.commandMessage({ entity_id: this.context.entityId, id, name: command.name, payload: command.payload }));
      const item = await this.nextWithin(stream);
      const repliedAt = metrics.commandProcessed(sentAt);
      if (item === TIMEOUT) return this.completed(receivedAt, this.crash('termination', `no answer to command ${id} (${command.name}) within ${this.o.relayTimeoutMs} ms`));
      if ('end' in item) {
        const outcome = streamEndOutcome(item.error, this.answered);
        if ('unavailable' in outcome) {
          this.closeStream();
          metrics.entityFailed();
          throw outcome.unavailable;
        }
        return this.completed(receivedAt, this.crash('termination', `command ${id} (${command.name}) outstanding: ${outcome.termination}`));
      }
      this.answered = true;
      const { reply, failure } = item.message;
      if (failure) return this.completed(receivedAt, this.crash('failure', `${failure.description ?? ''} (command ${int64ToNumber(failure.command_id)})`));
      if (!reply) return this.completed(receivedAt, this.crash('failure', 'empty or unknown message from the entity output stream'));
      const replyId = int64ToNumber(reply.command_id);
      if (replyId !== id) return this.completed(receivedAt, this.crash('failure', `incorrect command id in reply, expecting ${id} but got ${replyId}`));
      const failed = await this.persist(reply, repliedAt);
      if (failed) return this.completed(receivedAt, failed);
      const answer = reply as UserFunctionReply;
      if (answer.client_action?.failure?.restart && this.restartOnFailure) {
        // The user function asked for a fresh start: a new stream, recovered at once (as the
        // reference proxy's relay reconnects), which the next command waits for.
        this.log.info({ description: answer.client_action.failure.description }, 'entity failed a command with restart; it recovers on a new stream');
        this.closeStream();
        const reconnecting = this.connectMeasured();
        reconnecting.catch(() => undefined);
        this.reconnecting = reconnecting;
      }
      return this.completed(receivedAt, { client_action: answer.client_action, side_effects: answer.side_effects ?? [] });
    } catch (err) {
      metrics.commandFailed();
      metrics.commandCompleted(receivedAt);
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.stopped();
    this.closeStream();
    const reconnecting = this.reconnecting;
    this.reconnecting = undefined;
    (await reconnecting?.catch(() => undefined))?.end();
  }

  /** Ends the command with the reference proxy's crash failure and drops the stream. */
  protected crash(what: 'failure' | 'termination', detail: string): UserFunctionReply {
    const description = `Unexpected ${this.kind} ${what}`;
    this.log.error(`${description} - ${detail}`);
    this.closeStream();
    this.metrics.entityFailed();
    return failureReply(description);
  }

  /** Records the end of a command received at `receivedAt`, answered with `reply`; returns `reply`. */
  private completed(receivedAt: number, reply: UserFunctionReply): UserFunctionReply {
    if (reply.client_action?.failure) this.metrics.commandFailed();
    this.metrics.commandCompleted(receivedAt);
    return reply;
  }

  /** Records the instance's passivation, once. */
  private stopped(): void {
    if (this.activeSince === undefined) return;
    this.metrics.passivated(this.activeSince);
    this.activeSince = undefined;
  }

  /** `connect`, recorded as a recovery. */
  private async connectMeasured(): Promise<ProtocolStream<In, StreamOut<Reply>>> {
    const startedAt = this.metrics.now();
    try {
      const stream = await this.connect();
      this.metrics.recoveryCompleted(startedAt);
      return stream;
    } catch (err) {
      this.metrics.recoveryFailed();
      throw err;
    }
  }

  /** Half-closes the stream (the user function then ends its side); cancels it if it lingers. */
  protected closeStream(): void {
    const stream = this.stream;
    if (!stream) return;
    this.stream = undefined;
    stream.end();
    this.o.scheduler.schedule(this.o.closeGraceMs ?? 10_000, () => stream.cancel());
  }

  private async ensureStream(): Promise<ProtocolStream<In, StreamOut<Reply>>> {
    if (this.stream?.done) {
      // The user function ended the stream between commands (it restarted, say): start afresh.
      this.log.info('the entity stream ended while idle; it recovers before this command');
      this.closeStream();
      this.metrics.entityFailed();
    }
    if (this.stream) return this.stream;
    const connecting = this.reconnecting ?? this.connectMeasured();
    this.reconnecting = undefined;
    try {
      this.stream = await connecting;
    } catch (err) {
      if (err instanceof UserFunctionCallError || err instanceof EntityStoppedError) throw err;
      this.log.error({ err: describeError(err) }, 'the entity could not recover; the next command tries again');
      throw new EntityRecoveryError(`recovery of ${this.context.persistenceId} failed: ${describeError(err)}`, { cause: err });
    }
    this.commandId = 0;
    this.answered = false;
    return this.stream;
  }

  private nextWithin(stream: ProtocolStream<In, StreamOut<Reply>>): Promise<StreamItem<StreamOut<Reply>> | typeof TIMEOUT> {
    return new Promise((resolve) => {
      const timer = this.o.scheduler.schedule(this.o.relayTimeoutMs, () => resolve(TIMEOUT));
      void stream.next().then((item) => {
        timer.cancel();
        resolve(item);
      });
    });
  }
}
