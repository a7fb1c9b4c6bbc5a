/**
 * One CRDT entity on this node (after the reference proxy's `CrdtEntity`): a `handle` stream to
 * the user function whose state mirrors the replicated CRDT under `persistence_id-entity_id`.
 * Every node runs its own instance; the replicator keeps the instances' states converging.
 *
 * The user function's state is not a CRDT, so the two sides take turns changing it. While a
 * command or a stream cancellation is outstanding (`busy` > 0) only the user function changes
 * it (its replies' state actions are applied to the replicated CRDT at the write consistency
 * they ask); changes replicated in meanwhile are held back. When nothing is outstanding, every
 * change of the replicated CRDT is diffed against the state the user function knows (`known`)
 * and sent as a `delta`. Replies may come in any order: they are matched by command id.
 *
 * ```
 *   start ── read (majority, else local) ──► running ──state_action.delete / delete replicated in──► deleted
 *                 │ key deleted                  │  crash (bad message, incompatible delta,          │
 *                 └──────────► deleted           │  write timeout, stream closed) / passivation      │
 *                                                └──────────────────► stopped ◄── passivation ───────┘
 * ```
 *
 * Deleted: the stream gets `delete` (when the delete came from elsewhere) and is half-closed,
 * replies still outstanding are passed on, later commands fail with `Entity deleted`. A crash
 * fails whatever is outstanding with `Entity terminating`, closes the stream and reports the
 * reason to the user function; the manager starts a fresh instance for the next command.
 *
 * The stream ending under the entity is a crash too (the user function ended it, or crashed:
 * its connection broke), unless the user function could not be reached at all: then what is
 * outstanding fails UNAVAILABLE, an outage rather than an entity failure. The same decision as
 * the other entity types' (../entities/stream-end.ts). A stream-level `failure` naming a command
 * fails just that command and the entity goes on; one naming none (id 0) is ignored, as the
 * reference proxy does.
 */
import { describeError, hasCode } from '../../core/index.js';
import type { Cancellable, Logger, Scheduler } from '../../core/index.js';
import { Vote } from '../../crdt/index.js';
import type { AnyCrdt, Change, Consistency, Replicator } from '../../crdt/index.js';
import { int64ToNumber } from '../../protocol/index.js';
import type { Any, CrdtReply, CrdtStateAction, CrdtStreamCancelledResponse, CrdtStreamedMessage, CrdtStreamIn, CrdtStreamOut, Failure } from '../../protocol/index.js';
import { failureReply } from '../entities/messages.js';
import type { UserFunctionReply } from '../entities/messages.js';
import { streamEndOutcome } from '../entities/stream-end.js';
import type { ServiceModel } from '../model.js';
import type { ProtocolStream, UserFunctionCallError, UserFunctionClient } from '../user-function.js';
import { Channel } from './channel.js';
import { applyDelta, diffDelta, emptyFor, stateAsDelta, voteState } from './wire.js';
import type { WireContext } from './wire.js';

/**
 * The description a command gets when the CRDT could not be written at its consistency; also,
 * as from the reference proxy (its `failCommand` ignores the description), when the user
 * function sends a stream-level `failure` for the command.
 */
export const WRITE_FAILED = 'Failed to update CRDT at requested write consistency';
export const ENTITY_DELETED = 'Entity deleted';
export const ENTITY_TERMINATING = 'Entity terminating';

export interface CrdtEntityOptions {
  readonly service: ServiceModel;
  readonly entityId: string;
  readonly client: UserFunctionClient;
  readonly replicator: Replicator;
  readonly wire: WireContext;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  /** The start's majority read gives up after this long and reads locally, ms. */
  readonly readTimeoutMs: number;
  /** Majority and all writes fail after this long, ms. */
  readonly writeTimeoutMs: number;
  /** A command (or a streamed command's first reply) the user function has not answered within this long crashes the entity, ms. */
  readonly relayTimeoutMs: number;
  /** After a half-close, how long the user function has to end its side before the stream is cancelled, ms (default 10,000). */
  readonly closeGraceMs?: number;
  /** `EntityDiscovery.reportError`; must not throw. */
  readonly reportError: (message: string) => void;
  /** Runs the side effects of a reply no client waits for (a stream cancellation's response). */
  readonly detached: (reply: UserFunctionReply) => void;
  /** Called once when the instance stops (crash or passivation), so the manager forgets it. */
  readonly onStopped: () => void;
}

type Mode = 'running' | 'deleted' | 'stopped';

interface Pending {
  readonly resolve: (reply: UserFunctionReply) => void;
  readonly reject: (err: unknown) => void;
  /** Set for a streamed command: the client's messages. */
  readonly sink?: Channel<UserFunctionReply>;
  /** The client of a streamed command went away before its first reply. */
  cancelled?: boolean;
  timer?: Cancellable;
}

const consistencies: readonly Consistency[] = ['local', 'majority', 'all'];

export class CrdtEntity {
  private mode: Mode = 'running';
  private stream: ProtocolStream<CrdtStreamIn, CrdtStreamOut> | undefined;
  /** The user function sent something on `stream`: it is known to have reached a live user function. */
  private answered = false;
  private unsubscribe: (() => void) | undefined;
  /** The state the user function has (undefined: none yet). */
  private known: AnyCrdt | undefined;
  /** For a Vote: the tally last sent (membership changes it without a change of the CRDT). */
  private sentVote: string | undefined;
  private nextId = 0;
  /** Commands and stream cancellations the user function has not answered yet. */
  private busy = 0;
  private readonly pending = new Map<number, Pending>();
  /** Streamed commands whose client is still listening. */
  private readonly streams = new Map<number, Channel<UserFunctionReply>>();
  /** Streamed commands cancelled by their client, waiting for the user function's response. */
  private readonly closing = new Set<number>();
  private readonly key: string;
  private readonly log: Logger;

  private constructor(private readonly o: CrdtEntityOptions) {
    this.key = `${o.service.persistenceId}-${o.entityId}`;
    this.log = o.logger.child({ service: o.service.name, entityId: o.entityId });
  }

  /**
   * Reads the current state (majority, falling back to local), opens the stream and sends
   * `init`. A key already deleted starts the instance deleted, with no stream.
   */
  static async start(o: CrdtEntityOptions): Promise<CrdtEntity> {
    const e = new CrdtEntity(o);
    try {
      await o.replicator.get(e.key, { consistency: 'majority', timeoutMs: o.readTimeoutMs });
    } catch (err) {
      if (!hasCode(err, 'ERR_CRDT_DELETED')) e.log.info({ err: describeError(err) }, 'majority read failed; starting from the local copy');
    }
    if (o.replicator.isDeleted(e.key)) {
      e.mode = 'deleted';
      return e;
    }
    // From here to the subscription nothing awaits, so no change can slip between them.
    const state = o.replicator.getLocal(e.key);
    e.known = state;
    e.rememberVote(state);
    const stream = o.client.openCrdt();
    e.stream = stream;
    stream.send({ init: { service_name: o.service.name, entity_id: o.entityId, ...(state ? { delta: stateAsDelta(state, o.wire) } : {}) } });
    e.unsubscribe = o.replicator.subscribe(e.key, (change) => e.changed(change));
    void e.read(stream);
    return e;
  }

  /** True while anything is outstanding: a command, a streamed call, a cancellation (passivation waits). */
  get active(): boolean {
    return this.pending.size > 0 || this.streams.size > 0 || this.closing.size > 0;
  }

  get stopped(): boolean {
    return this.mode === 'stopped';
  }

  /** A unary command: resolves with the user function's (unrouted) reply; rejects when the user function is unreachable. */
  command(name: string, payload: Any): Promise<UserFunctionReply> {
    if (this.mode !== 'running') return Promise.resolve(failureReply(this.mode === 'deleted' ? ENTITY_DELETED : ENTITY_TERMINATING));
    return new Promise((resolve, reject) => this.send(name, payload, { resolve, reject }));
  }

  /**
   * A streamed command: its replies (unrouted) as the user function sends them, ending with
   * `end_stream`, a reply that does not keep the call open, or the entity's end. Abandoning the
   * iteration (or `signal`) cancels the call: the user function gets `stream_cancelled`.
   */
  streamed(name: string, payload: Any, signal: AbortSignal): AsyncIterable<UserFunctionReply> {
    let id = 0;
    const sink = new Channel<UserFunctionReply>(() => this.cancel(id));
    if (this.mode !== 'running') {
      sink.push(failureReply(this.mode === 'deleted' ? ENTITY_DELETED : ENTITY_TERMINATING));
      sink.end();
      return sink;
    }
    id = this.send(name, payload, { resolve: (r) => sink.push(r), reject: (e) => sink.fail(e), sink });
    if (signal.aborted) this.cancel(id);
    else signal.addEventListener('abort', () => this.cancel(id), { once: true });
    return sink;
  }

  /** Passivation or shutdown: ends the streamed calls, half-closes the stream. */
  stop(): void {
    if (this.mode === 'stopped') return;
    this.log.debug('CRDT entity stopping');
    this.halt(false);
  }

  /** Cluster membership changed: a Vote's tally may have changed with it. */
  membersChanged(): void {
    if (this.mode === 'running' && this.busy === 0 && this.known instanceof Vote) this.catchUp();
  }

  // ---- commands ---------------------------------------------------------------------------

  private send(name: string, payload: Any, p: Pending): number {
    const id = ++this.nextId;
    this.pending.set(id, p);
    this.busy++;
    p.timer = this.o.scheduler.schedule(this.o.relayTimeoutMs, () => {
      if (this.pending.get(id) === p) this.crash(`no answer to command ${id} (${name}) within ${this.o.relayTimeoutMs} ms`);
    });
    this.stream!.send({ command: { entity_id: this.o.entityId, id, name, payload, streamed: p.sink !== undefined } });
    return id;
  }

  private cancel(id: number): void {
    const p = this.pending.get(id);
    if (p) {
      // The first reply is still to come; the cancellation follows it if it keeps the call open.
      p.cancelled = true;
      p.sink?.end();
      return;
    }
    const sink = this.streams.get(id);
    if (!sink) return;
    this.streams.delete(id);
    sink.end();
    if (this.mode !== 'running') return;
    this.busy++;
    this.closing.add(id);
    this.stream!.send({ stream_cancelled: { entity_id: this.o.entityId, id } });
  }

  // ---- the user function's messages --------------------------------------------------------

  private async read(stream: ProtocolStream<CrdtStreamIn, CrdtStreamOut>): Promise<void> {
    for (;;) {
      const item = await stream.next();
      if (this.stream !== stream) return; // stopped or crashed meanwhile
      if ('end' in item) return this.streamEnded(item.error);
      this.answered = true;
      try {
        this.receive(item.message);
      } catch (err) {
        this.crash(describeError(err));
      }
    }
  }

  private receive(m: CrdtStreamOut): void {
    if (m.reply) this.onReply(m.reply);
    else if (m.streamed_message) this.onStreamedMessage(m.streamed_message);
    else if (m.stream_cancelled_response) this.onCancelledResponse(m.stream_cancelled_response);
    else if (m.failure) this.onFailure(m.failure);
    else this.crash('empty or unknown message from the CRDT entity stream');
  }

  private onReply(reply: CrdtReply): void {
    const id = int64ToNumber(reply.command_id);
    const p = this.pending.get(id);
    if (!p) return this.crash(`Received reply for entity id ${this.o.entityId} for unknown command ${id}`);
    if (!p.sink && reply.streamed) return this.crash(`Streamed reply to non streamed command ${id}`);
    this.pending.delete(id);
    p.timer?.cancel();
    const answer: UserFunctionReply = { client_action: reply.client_action, side_effects: reply.side_effects ?? [] };
    const keepOpen = p.sink !== undefined && reply.streamed === true && this.mode === 'running';
    if (keepOpen) {
      if (p.cancelled) {
        this.streams.set(id, p.sink!);
        this.cancel(id);
      } else this.streams.set(id, p.sink!);
    }
    this.perform(reply.state_action, {
      deliver: () => {
        // A unary command always gets its answer; a stream only the messages that say something.
        if (!p.sink || answer.client_action || (answer.side_effects?.length ?? 0) > 0) p.resolve(answer);
        if (p.sink && !keepOpen) p.sink.end();
      },
      fail: (description) => {
        p.resolve(failureReply(description));
        p.sink?.end();
      },
    });
  }

  /**
   * A stream-level failure (the reference proxy's `failCommand`): the command it names ends
   * with `WRITE_FAILED` (the user function's description is only logged), a streamed call is
   * ended with it, a cancellation counts as answered; the entity keeps running. A failure for
   * command 0 (none) or for one no longer outstanding changes nothing.
   */
  private onFailure(failure: Failure): void {
    const id = int64ToNumber(failure.command_id);
    this.log.warn({ commandId: id, description: failure.description }, id === 0 ? 'stream failure for no command from the user function; ignored' : 'the user function failed a command');
    if (id === 0) return;
    const reply = failureReply(WRITE_FAILED);
    const p = this.pending.get(id);
    if (p) {
      this.pending.delete(id);
      p.timer?.cancel();
      p.resolve(reply);
      p.sink?.end();
      return this.finished();
    }
    const sink = this.streams.get(id);
    if (sink) {
      this.streams.delete(id);
      sink.push(reply);
      sink.end();
    } else if (this.closing.delete(id)) this.finished();
  }

  private onStreamedMessage(m: CrdtStreamedMessage): void {
    const id = int64ToNumber(m.command_id);
    const sink = this.streams.get(id);
    if (!sink) {
      // A message racing the client's cancellation is expected; any other is a protocol error.
      // Once deleted, the streamed calls have ended already.
      if (!this.closing.has(id) && this.mode === 'running') this.o.reportError(`Received streamed message for unknown command id: ${id}`);
      return;
    }
    if (m.client_action || (m.side_effects?.length ?? 0) > 0) sink.push({ client_action: m.client_action, side_effects: m.side_effects ?? [] });
    if (m.end_stream) {
      this.streams.delete(id);
      sink.end();
    }
  }

  private onCancelledResponse(r: CrdtStreamCancelledResponse): void {
    const id = int64ToNumber(r.command_id);
    if (!this.closing.delete(id)) return this.crash(`Received stream cancelled response for stream that's not closing: ${id}`);
    const effects = r.side_effects ?? [];
    this.perform(r.state_action, { deliver: () => effects.length > 0 && this.o.detached({ side_effects: effects }), fail: () => undefined });
  }

  // ---- state actions -----------------------------------------------------------------------

  /**
   * Carries out a state action, then `deliver`s the answer (after the write reached its
   * consistency); a write that fails its consistency `fail`s it and crashes the entity. Either
   * way an outstanding operation ends (when none is left, held-back changes are sent).
   */
  private perform(action: CrdtStateAction | null | undefined, to: { deliver: () => void; fail: (description: string) => void }): void {
    const done = () => this.finished();
    if (this.mode !== 'running' || (!action?.update && !action?.delete)) {
      // Once deleted, updates are moot: the delete wins every merge.
      to.deliver();
      return done();
    }
    const consistency = consistencies[action.write_consistency ?? 0] ?? 'local';
    const options = { consistency, timeoutMs: this.o.writeTimeoutMs };
    if (action.delete) {
      this.enterDeleted(false);
      this.o.replicator.delete(this.key, options).then(to.deliver, (err: unknown) => {
        this.log.warn({ err: describeError(err) }, 'CRDT delete did not reach its write consistency');
        to.fail('Failed to delete CRDT at requested write consistency');
      });
      return;
    }
    const delta = action.update!;
    const now = this.o.wire.now();
    const ctx: WireContext = { ...this.o.wire, now: () => now };
    let next: AnyCrdt;
    try {
      next = applyDelta(this.known ?? emptyFor(delta), delta, ctx).resetDelta();
    } catch (err) {
      to.fail(ENTITY_TERMINATING);
      return this.crash(describeError(err));
    }
    this.known = next;
    this.rememberVote(next); // the user function knows its own vote's effect on the tally
    this.o.replicator.update(this.key, emptyFor(delta), (current) => applyDelta(current, delta, ctx), options).then(
      () => {
        to.deliver();
        done();
      },
      (err: unknown) => {
        if (hasCode(err, 'ERR_CRDT_DELETED')) {
          // Deleted meanwhile: the update is moot, the delete wins.
          to.deliver();
          return this.enterDeleted(true);
        }
        if (hasCode(err, 'ERR_CRDT_WRITE_TIMEOUT')) {
          to.fail(WRITE_FAILED);
          return this.crash(`${WRITE_FAILED}: ${describeError(err)}`);
        }
        to.fail(ENTITY_TERMINATING);
        this.crash(describeError(err));
      },
    );
  }

  /** An outstanding operation ended; when none is left, changes held back are sent. */
  private finished(): void {
    this.busy = Math.max(0, this.busy - 1);
    if (this.busy === 0 && this.mode === 'running') this.catchUp();
  }

  private catchUp(): void {
    if (this.o.replicator.isDeleted(this.key)) return this.enterDeleted(true);
    const state = this.o.replicator.getLocal(this.key);
    if (state) this.push(state);
  }

  private changed(change: Change): void {
    if (this.mode !== 'running') return;
    if (change.deleted) return this.enterDeleted(true);
    if (this.busy > 0 || !change.data) return;
    this.push(change.data);
  }

  /** Sends the user function what changed from `known` to `state`. */
  private push(state: AnyCrdt): void {
    try {
      if (state instanceof Vote) {
        const tally = JSON.stringify(voteState(state, this.o.wire));
        if (tally !== this.sentVote) this.stream!.send({ delta: stateAsDelta(state, this.o.wire) });
        this.sentVote = tally;
        this.known = state;
        return;
      }
      const delta = this.known ? diffDelta(this.known, state, this.o.wire) : stateAsDelta(state, this.o.wire);
      this.known = state;
      if (delta) this.stream!.send({ delta });
    } catch (err) {
      this.crash(`Incompatible CRDT change for entity ${this.o.entityId}: ${describeError(err)}`);
    }
  }

  private rememberVote(state: AnyCrdt | undefined): void {
    if (state instanceof Vote) this.sentVote = JSON.stringify(voteState(state, this.o.wire));
  }

  // ---- endings -----------------------------------------------------------------------------

  /** Deleted here (a state action) or elsewhere (`replicated`: the user function is told). */
  private enterDeleted(replicated: boolean): void {
    if (this.mode !== 'running') return;
    this.mode = 'deleted';
    this.unsubscribe?.();
    if (replicated) this.stream?.send({ delete: {} });
    for (const sink of this.streams.values()) sink.end();
    this.streams.clear();
    this.closing.clear();
    this.closeStream(false);
  }

  private streamEnded(error: UserFunctionCallError | undefined): void {
    if (this.mode === 'deleted') {
      this.stream = undefined;
      this.failOutstanding(failureReply(ENTITY_DELETED));
      return;
    }
    const outcome = streamEndOutcome(error, this.answered);
    if ('unavailable' in outcome) {
      // The user function could not be reached: an outage, not an entity failure. The commands
      // fail UNAVAILABLE, the next one starts afresh.
      for (const p of this.pending.values()) {
        p.timer?.cancel();
        p.reject(outcome.unavailable);
      }
      this.pending.clear();
      this.halt(false);
      return;
    }
    // The user function ended the stream or crashed under it: the reference proxy's crash
    // (`EntityStreamClosed` / a stream failure), with its words in the report.
    this.crash(error ? `Entity crashed: ${outcome.termination}` : 'Unexpected entity termination due to stream closure');
  }

  /** A protocol violation or a failed write: everything outstanding fails, the reason is reported. */
  private crash(message: string): void {
    if (this.mode === 'stopped') return;
    this.log.error(`CRDT entity crashed: ${message}`);
    this.halt(true);
    this.o.reportError(message);
  }

  /**
   * Stops for good: outstanding commands fail with `Entity terminating`; streamed calls end,
   * with that failure after a crash, cleanly on passivation or shutdown.
   */
  private halt(crashed: boolean): void {
    this.mode = 'stopped';
    this.unsubscribe?.();
    const failure = failureReply(ENTITY_TERMINATING);
    this.failOutstanding(failure);
    for (const sink of this.streams.values()) {
      if (crashed) sink.push(failure);
      sink.end();
    }
    this.streams.clear();
    this.closing.clear();
    this.closeStream(true);
    this.o.onStopped();
  }

  private failOutstanding(reply: UserFunctionReply): void {
    for (const p of this.pending.values()) {
      p.timer?.cancel();
      p.resolve(reply);
      p.sink?.end();
    }
    this.pending.clear();
  }

  /** Half-closes the stream (the user function then ends its side); cancels it if it lingers. */
  private closeStream(forget: boolean): void {
    const stream = this.stream;
    if (!stream) return;
    if (forget) this.stream = undefined;
    stream.end();
    this.o.scheduler.schedule(this.o.closeGraceMs ?? 10_000, () => stream.cancel());
  }
}
