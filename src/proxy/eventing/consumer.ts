/**
 * `EventLogConsumer`: runs one event-log subscription (./subscriptions.ts), at least once, in
 * offset order, one event at a time. It reads the journal by tag after its saved offset
 * (polling while the log is idle, at once again after a full batch), turns each event into a
 * CloudEvent call of the subscribed method that takes it (./cloud-event.ts) through the
 * proxy's dispatcher — so forwards and side effects run as for an ingress call — and saves
 * the offset in the key-value store every `saveEveryEvents` events or `saveAfterMs`, and on
 * stop. A failed delivery (or journal read) is logged and retried from the first unprocessed
 * event after a growing backoff; nothing after it is delivered first.
 *
 * A `client_action.failure` reply is the user function's answer, as in the reference: the
 * event counts as processed. So does an event the proxy refuses as malformed for the method's
 * input type (INVALID_ARGUMENT): no retry can mend it, and retrying would stall the log behind
 * it; it is logged as an error and skipped. Replies are otherwise discarded (no topics here).
 *
 * One instance per subscription in the cluster (./index.ts runs it as a cluster singleton);
 * time and randomness are injected. States: idle → running (start) → stopping (stop: the
 * in-flight call is cancelled, the loop ends, the offset is saved) → stopped.
 */
import { describeError, SeededRandom, silentLogger, systemClock, systemScheduler } from '../../core/index.js';
import type { Clock, Logger, Random, Scheduler } from '../../core/index.js';
import type { EventEnvelope, Journal, KeyValueStore } from '../../persistence/index.js';
import { CallError, ClientActionFailure, Status } from '../dispatch.js';
import type { Dispatcher } from '../dispatch.js';
import type { MethodModel } from '../model.js';
import { cloudEventMetadata, cloudEventOf, methodForEvent } from './cloud-event.js';
import { backoffMs, defaultEventingSettings, offsetSaveDue } from './settings.js';
import type { EventingSettings } from './settings.js';
import { offsetKey } from './subscriptions.js';
import type { EventLogSubscription } from './subscriptions.js';

/** The manifest of a saved offset (its payload: the offset in decimal, UTF-8). */
export const OFFSET_MANIFEST = 'cloudstate.eventing.offset';

export interface EventLogConsumerOptions {
  readonly subscription: EventLogSubscription;
  readonly journal: Journal;
  /** Where offsets are saved (the storage's key-value store). */
  readonly offsets: KeyValueStore;
  readonly dispatcher: Dispatcher;
  readonly settings?: Partial<EventingSettings>;
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  readonly random?: Random;
  readonly logger?: Logger;
}

/** Whether a rejected delivery is the user function's own `failure` reply, rather than a call that did not complete. */
export const isFailureReply = (err: unknown): boolean => err instanceof ClientActionFailure;

/** Whether a rejected delivery was refused as malformed: the same event would be refused on every retry. */
export const isMalformedEvent = (err: unknown): boolean => err instanceof CallError && err.status === Status.INVALID_ARGUMENT;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function* one(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

export class EventLogConsumer {
  private readonly settings: EventingSettings;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly random: Random;
  private readonly log: Logger;
  private readonly key: string;
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private inFlight: AbortController | undefined;
  /** The offset of the last processed event (undefined until the saved one is loaded). */
  private processed: number | undefined;
  private saved: number | undefined;
  private unsaved = 0;
  private oldestUnsavedAt = 0;
  private readonly skippedTypes = new Set<string>();

  constructor(private readonly o: EventLogConsumerOptions) {
    this.settings = { ...defaultEventingSettings, ...o.settings };
    this.clock = o.clock ?? systemClock;
    this.scheduler = o.scheduler ?? systemScheduler;
    this.random = o.random ?? new SeededRandom(Date.now());
    this.key = offsetKey(o.subscription);
    this.log = (o.logger ?? silentLogger).child({ eventLog: o.subscription.eventLog, consumerGroup: o.subscription.consumerGroup });
  }

  /** The offset of the last event processed (0 before any; undefined until started). */
  get offset(): number | undefined {
    return this.processed;
  }

  /** Starts consuming (idempotent). */
  start(): void {
    if (this.running || this.stopping) return;
    this.running = this.run();
  }

  /** Cancels the call in flight (it will be delivered again), ends the loop and saves the offset. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.inFlight?.abort();
    this.wake?.();
    await this.running;
    if (this.unsaved > 0) await this.save().catch((err: unknown) => this.log.error({ err: describeError(err), offset: this.processed }, 'saving the event-log offset on stop failed'));
    if (this.running) this.log.info({ offset: this.processed }, `stopped consuming event log ${this.o.subscription.eventLog} for ${this.o.subscription.serviceName}`);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        this.processed ??= await this.loadOffset();
        const batch = await this.read(this.processed);
        for (const envelope of batch) {
          if (this.stopping) break;
          await this.deliver(envelope);
          this.markProcessed(envelope.offset);
          failures = 0;
          await this.saveIfDue();
        }
        await this.saveIfDue();
        if (batch.length < this.settings.batchSize) await this.wait(this.settings.pollIntervalMs);
      } catch (err) {
        if (this.stopping) break;
        failures++;
        const delay = backoffMs(failures, this.settings, this.random.next());
        this.log.error(
          { err: describeError(err), offset: this.processed, failures, retryInMs: Math.round(delay) },
          `event-log consumer of ${this.o.subscription.serviceName} failed: retrying after the last processed event`,
        );
        await this.wait(delay);
      }
    }
  }

  private async loadOffset(): Promise<number> {
    const stored = await this.o.offsets.get(this.key);
    const offset = stored ? Number(decoder.decode(stored.payload)) : 0;
    this.saved = offset;
    this.log.info({ offset }, `consuming event log ${this.o.subscription.eventLog} for ${this.o.subscription.serviceName}`);
    return Number.isFinite(offset) ? offset : 0;
  }

  private async read(after: number): Promise<EventEnvelope[]> {
    const batch: EventEnvelope[] = [];
    for await (const envelope of this.o.journal.currentEventsByTag(this.o.subscription.eventLog, after, this.settings.batchSize)) batch.push(envelope);
    return batch;
  }

  /** Calls the method that takes the event; resolves when the call (and its forwards and effects) is done. */
  private async deliver(envelope: EventEnvelope): Promise<void> {
    const event = cloudEventOf(envelope, this.o.subscription.eventLog);
    const method = methodForEvent(this.o.subscription.methods, event.type);
    if (!method) {
      if (!this.skippedTypes.has(event.type)) {
        this.skippedTypes.add(event.type);
        this.log.warn({ type: event.type, offset: envelope.offset }, `no method of ${this.o.subscription.serviceName} takes events of type ${event.type}: skipped`);
      }
      return;
    }
    // The dispatcher sends `{ type_url: method.inputTypeUrl, value }`: with the event's type URL
    // that is the original Any, as the reference proxy sends it (the Any method gets the event
    // itself, not an Any of an Any).
    const target: MethodModel = { ...method, inputTypeUrl: event.type };
    const metadata = cloudEventMetadata(event);
    const controller = new AbortController();
    this.inFlight = controller;
    try {
      if (method.clientStreaming || method.serverStreaming) {
        for await (const _ of this.o.dispatcher.stream({ method: target, metadata, requests: one(event.data), signal: controller.signal })) void _;
      } else {
        await this.o.dispatcher.unary(target, event.data, metadata, { signal: controller.signal });
      }
    } catch (err) {
      if (isMalformedEvent(err)) {
        this.log.error({ offset: envelope.offset, type: event.type, err: describeError(err) }, `${method.serviceName}.${method.name} cannot take the event at offset ${envelope.offset}: skipped`);
        return;
      }
      if (!isFailureReply(err)) throw err;
      this.log.warn({ offset: envelope.offset, failure: (err as Error).message }, `${method.serviceName}.${method.name} answered the event with a failure: it counts as processed`);
    } finally {
      this.inFlight = undefined;
    }
  }

  private markProcessed(offset: number): void {
    if (this.unsaved === 0) this.oldestUnsavedAt = this.clock.monotonic();
    this.unsaved++;
    this.processed = offset;
  }

  private async saveIfDue(): Promise<void> {
    if (offsetSaveDue(this.unsaved, this.oldestUnsavedAt, this.clock.monotonic(), this.settings)) await this.save();
  }

  private async save(): Promise<void> {
    const offset = this.processed;
    if (offset === undefined || offset === this.saved) {
      this.unsaved = 0;
      return;
    }
    await this.o.offsets.upsert(this.key, { payload: encoder.encode(String(offset)), manifest: OFFSET_MANIFEST });
    this.saved = offset;
    this.unsaved = 0;
  }

  /** Waits `ms` on the scheduler; `stop()` ends the wait early. */
  private wait(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.wake = undefined;
        resolve();
      };
      const timer = this.scheduler.schedule(ms, done);
      this.wake = () => {
        timer.cancel();
        done();
      };
    });
  }
}
