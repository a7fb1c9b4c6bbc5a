// Event-log eventing in the proxy (src/proxy/eventing): the pure decisions (which subscriptions
// exist, which method takes an event, the CloudEvent and its metadata, backoff and offset-save
// timing) table-driven, and the consumer loop against the in-memory storage with a fake
// dispatcher and a manual scheduler (no real waits).
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ManualScheduler, SeededRandom } from '../../../src/core/index.js';
import type { Logger } from '../../../src/core/index.js';
import { Action, EventSourcedEntity, entitySpec } from '../../../src/function/index.js';
import { Journal, openMemoryStorage } from '../../../src/persistence/index.js';
import type { JournalPlugin, KeyValueStore, PersistentRepr } from '../../../src/persistence/index.js';
import { EntityType } from '../../../src/protocol/index.js';
import type { MetadataEntry } from '../../../src/protocol/index.js';
import { buildProxyModel } from '../../../src/proxy/descriptors.js';
import { CallError, ClientActionFailure, Status } from '../../../src/proxy/dispatch.js';
import type { Call, Dispatcher, Response } from '../../../src/proxy/dispatch.js';
import type { MethodModel, ProxyModel, ServiceModel } from '../../../src/proxy/model.js';
import {
  backoffMs,
  cloudEventMetadata,
  cloudEventOf,
  EventLogConsumer,
  methodForEvent,
  offsetKey,
  offsetSaveDue,
  planEventing,
  startEventing,
} from '../../../src/proxy/eventing/index.js';
import type { EventingSettings, EventLogSubscription } from '../../../src/proxy/eventing/index.js';

const tckProtoDir = fileURLToPath(new URL('../../tck/proto', import.meta.url));
const PKG = 'cloudstate.tck.model.eventlogeventing';
const SUBSCRIBER = `${PKG}.EventLogSubscriberModel`;
const URL_PREFIX = 'type.googleapis.com/';

/** The proxy's model of the TCK eventing model, through discovery as the proxy builds it. */
function tckEventingModel(): ProxyModel {
  const common = { protoFiles: ['cloudstate/tck/model/eventlogeventing.proto'], includeDirs: [tckProtoDir] };
  const entities = [
    new Action({ ...common, serviceName: SUBSCRIBER, commandHandlers: {} }),
    new EventSourcedEntity({ ...common, serviceName: `${PKG}.EventSourcedEntityOne`, persistenceId: 'eventlogeventing-one', initialState: () => ({}), eventHandlers: {}, commandHandlers: {} }),
  ];
  return buildProxyModel(entitySpec(entities));
}

// ---- a hand-made model for the cases the TCK proto does not have ----

function method(serviceName: string, name: string, input: string, eventing?: Record<string, unknown>, shape: Partial<MethodModel> = {}): MethodModel {
  return {
    serviceName,
    name,
    path: `/${serviceName}/${name}`,
    inputTypeUrl: URL_PREFIX + input,
    outputTypeUrl: `${URL_PREFIX}x.Out`,
    clientStreaming: false,
    serverStreaming: false,
    entityKeyFields: [],
    httpRule: undefined,
    eventing,
    ...shape,
  } as unknown as MethodModel;
}
function model(...services: Array<{ name: string; entityType?: string; methods: MethodModel[] }>): ProxyModel {
  const map = new Map<string, ServiceModel>();
  for (const s of services) {
    map.set(s.name, { name: s.name, entityType: s.entityType ?? EntityType.action, persistenceId: '', passivationTimeoutMs: undefined, methods: new Map(s.methods.map((m) => [m.name, m])) });
  }
  return { services: map } as unknown as ProxyModel;
}
const fromLog = (eventLog: string, consumerGroup?: string) => ({ in: { event_log: eventLog, ...(consumerGroup ? { consumer_group: consumerGroup } : {}) } });

t.test('planEventing: the TCK model subscribes two methods to one log and one to another', async (t) => {
  const plan = planEventing(tckEventingModel());
  t.same(plan.problems, []);
  t.same(
    plan.subscriptions.map((s) => ({ eventLog: s.eventLog, consumerGroup: s.consumerGroup, serviceName: s.serviceName, methods: s.methods.map((m) => m.name) })),
    [
      { eventLog: 'eventlogeventing-one', consumerGroup: SUBSCRIBER, serviceName: SUBSCRIBER, methods: ['ProcessEventOne', 'ProcessEventTwo'] },
      { eventLog: 'eventlogeventing-two', consumerGroup: SUBSCRIBER, serviceName: SUBSCRIBER, methods: ['ProcessAnyEvent'] },
    ],
    'consumer group defaults to the service; Effect (no option) and the entity are not subscribers',
  );
});

t.test('planEventing: consumer groups, topics, non-actions, conflicts', async (t) => {
  const plan = planEventing(
    model(
      { name: 'a.Sub', methods: [method('a.Sub', 'One', 'a.E1', fromLog('log', 'group-1')), method('a.Sub', 'Two', 'a.E2', fromLog('log', 'group-1')), method('a.Sub', 'Three', 'a.E3', fromLog('log', 'group-2'))] },
      { name: 'a.Other', methods: [method('a.Other', 'Same', 'a.E1', fromLog('log', 'group-1')), method('a.Other', 'Own', 'a.E1', fromLog('other-log'))] },
      { name: 'a.Topics', methods: [method('a.Topics', 'In', 'a.E1', { in: { topic: 'tin' } }), method('a.Topics', 'Out', 'a.E1', { out: { topic: 'tout' } }), method('a.Topics', 'Nothing', 'a.E1', { in: { consumer_group: 'g' } })] },
      { name: 'a.Entity', entityType: EntityType.eventSourced, methods: [method('a.Entity', 'Sub', 'a.E1', fromLog('log'))] },
    ),
  );
  t.same(
    plan.subscriptions.map((s) => [s.serviceName, s.eventLog, s.consumerGroup, s.methods.map((m) => m.name)]),
    [
      ['a.Sub', 'log', 'group-1', ['One', 'Two']],
      ['a.Other', 'other-log', 'a.Other', ['Own']],
    ],
  );
  const expectProblem = (pattern: RegExp) => t.ok(plan.problems.some((p) => pattern.test(p)), `a problem matching ${pattern}`);
  expectProblem(/^a\.Sub\.Three consumes the event log "log" as consumer group "group-2", but another method of a\.Sub consumes it as "group-1"/);
  expectProblem(/^a\.Other consumes the event log "log" as consumer group "group-1", which a\.Sub already uses/);
  expectProblem(/^a\.Topics\.In consumes the topic "tin".*no topic \(Pub\/Sub\) eventing support/);
  expectProblem(/^a\.Topics\.Out publishes to the topic "tout".*no topic \(Pub\/Sub\) eventing support/);
  expectProblem(/^a\.Topics\.Nothing declares an eventing input with no source/);
  expectProblem(/^a\.Entity\.Sub consumes the event log "log", but only actions consume event logs/);
  t.equal(plan.problems.length, 6, 'one problem each, nothing more');
});

t.test('methodForEvent: by message type, else the Any method; JSON and primitives only to Any', async (t) => {
  const one = method('s', 'One', 'p.EventOne');
  const two = method('s', 'Two', 'p.EventTwo');
  const anyMethod = method('s', 'Anything', 'google.protobuf.Any');
  const cases: Array<[string, MethodModel[], string, MethodModel | undefined]> = [
    ['exact type', [one, two, anyMethod], `${URL_PREFIX}p.EventTwo`, two],
    ['another host prefix names the same type', [one, two], 'example.com/types/p.EventOne', one],
    ['unknown type falls back to Any', [one, anyMethod], `${URL_PREFIX}p.Other`, anyMethod],
    ['unknown type without Any: none', [one, two], `${URL_PREFIX}p.Other`, undefined],
    ['JSON goes to Any', [one, anyMethod], 'json.cloudstate.io/EventOne', anyMethod],
    ['JSON named like a message type is still JSON', [one], 'json.cloudstate.io/p.EventOne', undefined],
    ['primitive goes to Any', [one, anyMethod], 'p.cloudstate.io/string', anyMethod],
    ['an event of type Any itself', [one, anyMethod], `${URL_PREFIX}google.protobuf.Any`, anyMethod],
  ];
  for (const [what, methods, typeUrl, expected] of cases) t.equal(methodForEvent(methods, typeUrl)?.name, expected?.name, what);
});

const repr = (persistenceId: string, seqNr: number, manifest: string, payload: Uint8Array, tag: string, timestamp = 1_700_000_000_000): PersistentRepr => ({
  persistenceId,
  seqNr,
  payload,
  manifest,
  writerId: 'w',
  timestamp,
  tags: [tag],
});

t.test('cloudEventOf and its metadata', async (t) => {
  const event = cloudEventOf({ offset: 42, event: repr('shop|cart|7', 3, `${URL_PREFIX}p.Added`, Uint8Array.of(1, 2), 'shop', Date.UTC(2024, 0, 2, 3, 4, 5, 6)) }, 'shop');
  t.same(event, {
    id: '42',
    source: 'shop',
    specversion: '1.0',
    type: `${URL_PREFIX}p.Added`,
    datacontenttype: 'application/vnd.cloudstate.protobuf.any',
    subject: 'cart|7',
    time: '2024-01-02T03:04:05.006Z',
    data: Uint8Array.of(1, 2),
  }, 'the subject is the persistence id after its first |');
  t.same(cloudEventMetadata(event), [
    { key: 'ce-id', string_value: '42' },
    { key: 'ce-source', string_value: 'shop' },
    { key: 'ce-specversion', string_value: '1.0' },
    { key: 'ce-type', string_value: `${URL_PREFIX}p.Added` },
    { key: 'Content-Type', string_value: 'application/vnd.cloudstate.protobuf.any' },
    { key: 'ce-subject', string_value: 'cart|7' },
    { key: 'ce-time', string_value: '2024-01-02T03:04:05.006Z' },
  ]);
});

t.test('backoffMs and offsetSaveDue', async (t) => {
  const s = { minBackoffMs: 3_000, maxBackoffMs: 30_000, randomFactor: 0.2 };
  const cases: Array<[number, number, number]> = [
    [1, 0, 3_000],
    [2, 0, 6_000],
    [3, 0, 12_000],
    [4, 0, 24_000],
    [5, 0, 30_000],
    [50, 0, 30_000],
    [1, 0.5, 3_300],
    [5, 0.999, 30_000 * 1.1998],
  ];
  for (const [failures, random, expected] of cases) {
    const actual = backoffMs(failures, s, random);
    t.ok(Math.abs(actual - expected) < 1e-6, `failure ${failures}, random ${random}: ${actual} ms, expected ${expected}`);
  }
  const save = { saveEveryEvents: 20, saveAfterMs: 1_000 };
  t.equal(offsetSaveDue(0, 0, 5_000, save), false, 'nothing unsaved');
  t.equal(offsetSaveDue(19, 0, 999, save), false, '19 events, 999 ms');
  t.equal(offsetSaveDue(20, 0, 0, save), true, '20 events');
  t.equal(offsetSaveDue(1, 0, 1_000, save), true, '1 s after the oldest unsaved');
});

// ---- the consumer loop ----

interface Delivery {
  readonly method: string;
  readonly typeUrl: string;
  readonly payload: Uint8Array;
  readonly metadata: readonly MetadataEntry[];
  /** Virtual time of the call, ms. */
  readonly at: number;
}

/** Records every call; `fail(n)` decides per call whether (and how) it fails. */
class FakeDispatcher implements Dispatcher {
  readonly deliveries: Delivery[] = [];
  fail: (d: Delivery, attempt: number) => Error | undefined = () => undefined;
  /** Calls that wait for their signal (to test stop). */
  hang = false;
  /** The virtual clock the calls are timed with. */
  now: () => number = () => 0;

  #record(method: MethodModel, payload: Uint8Array, metadata: readonly MetadataEntry[]): Delivery {
    const d = { method: method.name, typeUrl: method.inputTypeUrl, payload, metadata, at: this.now() };
    this.deliveries.push(d);
    return d;
  }
  #attempts(d: Delivery) {
    return this.deliveries.filter((x) => x.metadata[0]?.string_value === d.metadata[0]?.string_value).length;
  }
  async unary(method: MethodModel, payload: Uint8Array, metadata: readonly MetadataEntry[], cancel: { signal: AbortSignal }): Promise<Response> {
    const d = this.#record(method, payload, metadata);
    if (this.hang) await new Promise((_, reject) => cancel.signal.addEventListener('abort', () => reject(new CallError(Status.CANCELLED, 'cancelled'))));
    const error = this.fail(d, this.#attempts(d));
    if (error) throw error;
    return { payload: new Uint8Array(0) };
  }
  async *stream(call: Call): AsyncIterable<Response> {
    const requests: Uint8Array[] = [];
    for await (const r of call.requests) requests.push(r);
    if (requests.length !== 1) throw new Error(`a streamed subscriber must get one request, got ${requests.length}`);
    const d = this.#record(call.method, requests[0]!, call.metadata);
    yield { payload: new Uint8Array(0) };
    const error = this.fail(d, this.#attempts(d));
    if (error) throw error;
    yield { payload: new Uint8Array(0) };
  }
  offsets(): number[] {
    return this.deliveries.map((d) => Number(d.metadata[0]?.string_value));
  }
}

/** A logger that keeps what was logged at warn and error. */
function recordingLogger(): Logger & { lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  const at = (level: string) => (a: unknown, b?: string) => lines.push({ level, msg: typeof a === 'string' ? a : (b ?? '') });
  const logger = { lines, warn: at('warn'), error: at('error'), info: () => undefined, debug: () => undefined, trace: () => undefined, fatal: at('fatal') } as Record<string, unknown>;
  logger.child = () => logger;
  return logger as unknown as Logger & { lines: Array<{ level: string; msg: string }> };
}

const TAG = 'events';
const enc = new TextEncoder();
const subscription: EventLogSubscription = {
  eventLog: TAG,
  consumerGroup: 'group',
  serviceName: 's.Sub',
  methods: [method('s.Sub', 'OnA', 'p.A'), method('s.Sub', 'OnB', 'p.B', undefined, { serverStreaming: true }), method('s.Sub', 'OnAny', 'google.protobuf.Any')],
};
const fast: Partial<EventingSettings> = { batchSize: 7, pollIntervalMs: 100, saveEveryEvents: 20, saveAfterMs: 1_000, minBackoffMs: 500, maxBackoffMs: 2_000, randomFactor: 0 };

async function setup() {
  const storage = await openMemoryStorage();
  const journal = new Journal(storage.journal);
  const seqNrs = new Map<string, number>();
  /** Writes events of entity `id` (type URL per event), tagged; resolves when stored. */
  const write = async (id: string, ...types: string[]) => {
    for (const type of types) {
      const persistenceId = `${TAG}|${id}`;
      const seqNr = (seqNrs.get(persistenceId) ?? 0) + 1;
      seqNrs.set(persistenceId, seqNr);
      await journal.append({ persistenceId, events: [repr(persistenceId, seqNr, type, enc.encode(`${id}:${seqNr}`), TAG)] });
    }
  };
  const savedOffset = async (kv: KeyValueStore = storage.keyValueStore) => {
    const stored = await kv.get(offsetKey(subscription));
    return stored ? Number(new TextDecoder().decode(stored.payload)) : undefined;
  };
  return { storage, journal, write, savedOffset };
}

function consumerOn(env: Awaited<ReturnType<typeof setup>>, dispatcher: FakeDispatcher, settings: Partial<EventingSettings> = fast, logger?: Logger) {
  const scheduler = new ManualScheduler();
  dispatcher.now = () => scheduler.monotonic();
  const consumer = new EventLogConsumer({ subscription, journal: env.journal, offsets: env.storage.keyValueStore, dispatcher, settings, clock: scheduler, scheduler, random: new SeededRandom(1), ...(logger ? { logger } : {}) });
  /** Advances virtual time in `stepMs` steps until `done()` (at most `maxSteps`); fails if it never is. */
  const until = async (done: () => boolean | Promise<boolean>, what: string, stepMs = 10, maxSteps = 2_000) => {
    for (let i = 0; i < maxSteps; i++) {
      if (await done()) return;
      await scheduler.advanceAsync(stepMs);
    }
    throw new Error(`never happened: ${what}`);
  };
  return { consumer, scheduler, until };
}

const A = `${URL_PREFIX}p.A`;
const B = `${URL_PREFIX}p.B`;

t.test('consumer: every event in offset order, to the method that takes it, as a CloudEvent', async (t) => {
  const env = await setup();
  await env.write('x', A, B, A);
  await env.write('y', 'json.cloudstate.io/Thing', A);
  const dispatcher = new FakeDispatcher();
  const { consumer, until } = consumerOn(env, dispatcher);
  consumer.start();
  await until(() => dispatcher.deliveries.length === 5, '5 deliveries');
  t.same(dispatcher.offsets(), [1, 2, 3, 4, 5], 'in offset order, one each');
  t.same(dispatcher.deliveries.map((d) => d.method), ['OnA', 'OnB', 'OnA', 'OnAny', 'OnA'], 'by type; JSON to the Any method; B through the stream');
  t.same(dispatcher.deliveries.map((d) => d.typeUrl), [A, B, A, 'json.cloudstate.io/Thing', A], 'the payload keeps the event\'s own type URL (the original Any)');
  t.same(dispatcher.deliveries.map((d) => new TextDecoder().decode(d.payload)), ['x:1', 'x:2', 'x:3', 'y:1', 'y:2'], 'and its bytes');
  const meta = Object.fromEntries(dispatcher.deliveries[3]!.metadata.map((e) => [e.key, e.string_value]));
  t.same(meta, {
    'ce-id': '4',
    'ce-source': TAG,
    'ce-specversion': '1.0',
    'ce-type': 'json.cloudstate.io/Thing',
    'Content-Type': 'application/vnd.cloudstate.protobuf.any',
    'ce-subject': 'y',
    'ce-time': new Date(1_700_000_000_000).toISOString(),
  });
  await env.write('z', B);
  await until(() => dispatcher.deliveries.length === 6, 'a later event, picked up by polling');
  t.equal(dispatcher.deliveries[5]!.method, 'OnB');
  await consumer.stop();
  t.equal(await env.savedOffset(), 6, 'stop saves the offset');
});

t.test('consumer: the offset is saved every 20 events or after 1 s, and on stop', async (t) => {
  const env = await setup();
  for (let i = 0; i < 25; i++) await env.write(`e${i}`, A);
  const dispatcher = new FakeDispatcher();
  const { consumer, until, scheduler } = consumerOn(env, dispatcher, { ...fast, saveAfterMs: 60_000 });
  consumer.start();
  await until(() => dispatcher.deliveries.length === 25, '25 deliveries', 1);
  t.equal(await env.savedOffset(), 20, 'saved after the 20th event, not yet after 25 (the time limit is far)');
  await scheduler.advanceAsync(61_000);
  t.equal(await env.savedOffset(), 25, 'saved once the oldest unsaved event is old enough');
  await env.write('f', A);
  await until(() => dispatcher.deliveries.length === 26, 'one more');
  t.equal(await env.savedOffset(), 25, 'one event: not saved yet');
  await consumer.stop();
  t.equal(await env.savedOffset(), 26, 'stop saves it');
});

t.test('consumer: resumes from the saved offset; what was not saved is delivered again (at least once)', async (t) => {
  const env = await setup();
  for (let i = 0; i < 25; i++) await env.write(`e${i}`, A);
  const first = new FakeDispatcher();
  const crashed = consumerOn(env, first, { ...fast, saveAfterMs: 60_000 });
  crashed.consumer.start();
  await crashed.until(() => first.deliveries.length === 25, '25 deliveries', 1);
  t.equal(await env.savedOffset(), 20);
  // The first consumer is now frozen (its virtual time never moves again): as if its node died.
  const second = new FakeDispatcher();
  const next = consumerOn(env, second);
  next.consumer.start();
  await next.until(() => second.deliveries.length === 5, 'the unsaved five again');
  t.same(second.offsets(), [21, 22, 23, 24, 25], 'from the first event after the saved offset: nothing skipped');
  await next.consumer.stop();
  const third = new FakeDispatcher();
  const restarted = consumerOn(env, third);
  await env.write('later', A);
  restarted.consumer.start();
  await restarted.until(() => third.deliveries.length === 1, 'the new event');
  await restarted.scheduler.advanceAsync(500);
  t.same(third.offsets(), [26], 'after a clean stop, only what is new');
  await restarted.consumer.stop();
});

t.test('consumer: a failed delivery is logged and retried after a backoff, from that event', async (t) => {
  const env = await setup();
  await env.write('x', A, A, A, A);
  const dispatcher = new FakeDispatcher();
  dispatcher.fail = (d, attempt) => (d.metadata[0]?.string_value === '2' && attempt <= 2 ? new CallError(Status.UNAVAILABLE, 'the user function is unavailable') : undefined);
  const logger = recordingLogger();
  const { consumer, until } = consumerOn(env, dispatcher, fast, logger);
  consumer.start();
  await until(() => dispatcher.deliveries.length === 6, 'two retries and the rest', 1);
  const [, first, second, third] = dispatcher.deliveries.map((d) => d.at);
  t.ok(second! - first! >= 500 && second! - first! <= 502, `the first retry after the minimum backoff, 500 ms (was ${second! - first!})`);
  t.ok(third! - second! >= 1_000 && third! - second! <= 1_002, `the second after twice that (was ${third! - second!})`);
  t.same(dispatcher.offsets(), [1, 2, 2, 2, 3, 4], 'retried from the failed event; nothing after it went first');
  t.same(logger.lines.filter((l) => l.level === 'error').length, 2, 'each failure logged');
  t.match(logger.lines.find((l) => l.level === 'error')?.msg, /s\.Sub failed: retrying/);
  await consumer.stop();
  t.equal(await env.savedOffset(), 4);
});

t.test('consumer: a failure of a streamed call is retried too', async (t) => {
  const env = await setup();
  await env.write('x', B, A);
  const dispatcher = new FakeDispatcher();
  dispatcher.fail = (d, attempt) => (d.method === 'OnB' && attempt === 1 ? new CallError(Status.INTERNAL, 'broken stream') : undefined);
  const { consumer, until } = consumerOn(env, dispatcher);
  consumer.start();
  await until(() => dispatcher.deliveries.length === 3, 'retry and the next');
  t.same(dispatcher.offsets(), [1, 1, 2]);
  await consumer.stop();
});

t.test('consumer: the user function\'s failure reply is an answer: the event is processed, not retried', async (t) => {
  const env = await setup();
  await env.write('x', A, A);
  const dispatcher = new FakeDispatcher();
  dispatcher.fail = (d) => (d.metadata[0]?.string_value === '1' ? new ClientActionFailure('no thanks') : undefined);
  const logger = recordingLogger();
  const { consumer, until, scheduler } = consumerOn(env, dispatcher, fast, logger);
  consumer.start();
  await until(() => dispatcher.deliveries.length === 2, 'both events');
  await scheduler.advanceAsync(5_000);
  t.same(dispatcher.offsets(), [1, 2], 'no retry');
  t.ok(logger.lines.some((l) => l.level === 'warn' && /answered the event with a failure/.test(l.msg)), 'logged at warn');
  await consumer.stop();
});

t.test('consumer: an event the proxy refuses as malformed (INVALID_ARGUMENT) is logged and skipped, not retried forever', async (t) => {
  const env = await setup();
  await env.write('x', A, A);
  const dispatcher = new FakeDispatcher();
  dispatcher.fail = (d) => (d.metadata[0]?.string_value === '1' ? new CallError(Status.INVALID_ARGUMENT, '/t.S/Take: the request is not a valid t.A: index out of range') : undefined);
  const logger = recordingLogger();
  const { consumer, until, scheduler } = consumerOn(env, dispatcher, fast, logger);
  consumer.start();
  await until(() => dispatcher.deliveries.length === 2, 'both events');
  await scheduler.advanceAsync(5_000);
  t.same(dispatcher.offsets(), [1, 2], 'no retry: the next event is delivered');
  t.ok(logger.lines.some((l) => l.level === 'error' && /cannot take the event at offset 1: skipped/.test(l.msg)), 'logged as an error');
  await consumer.stop();
});

t.test('consumer: a call that failed otherwise (UNKNOWN from a crash, no failure reply) is retried', async (t) => {
  const env = await setup();
  await env.write('x', A);
  const dispatcher = new FakeDispatcher();
  dispatcher.fail = (_d, attempt) => (attempt === 1 ? new CallError(Status.UNKNOWN, 'Unexpected entity failure') : undefined);
  const { consumer, until, scheduler } = consumerOn(env, dispatcher, fast);
  consumer.start();
  await until(() => dispatcher.deliveries.length === 1, 'first attempt');
  await scheduler.advanceAsync(5_000);
  await until(() => dispatcher.deliveries.length === 2, 'the retry');
  t.same(dispatcher.offsets(), [1, 1], 'the same event again');
  await consumer.stop();
});

t.test('consumer: events no method takes are skipped (warned once per type) and the offset moves on', async (t) => {
  const env = await setup();
  await env.write('x', `${URL_PREFIX}p.Unknown`, `${URL_PREFIX}p.Unknown`, A);
  const dispatcher = new FakeDispatcher();
  const logger = recordingLogger();
  const noAny: EventLogSubscription = { ...subscription, methods: subscription.methods.filter((m) => m.name !== 'OnAny') };
  const scheduler = new ManualScheduler();
  const consumer = new EventLogConsumer({ subscription: noAny, journal: env.journal, offsets: env.storage.keyValueStore, dispatcher, settings: fast, clock: scheduler, scheduler, logger });
  consumer.start();
  for (let i = 0; i < 100 && dispatcher.deliveries.length === 0; i++) await scheduler.advanceAsync(10);
  t.same(dispatcher.offsets(), [3], 'only the event a method takes');
  t.same(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg), ['no method of s.Sub takes events of type type.googleapis.com/p.Unknown: skipped']);
  await consumer.stop();
  t.equal(await env.savedOffset(), 3, 'skipped events count as processed');
});

t.test('consumer: stop cancels the call in flight, which is delivered again after a restart', async (t) => {
  const env = await setup();
  await env.write('x', A);
  const dispatcher = new FakeDispatcher();
  dispatcher.hang = true;
  const { consumer, until } = consumerOn(env, dispatcher);
  consumer.start();
  await until(() => dispatcher.deliveries.length === 1, 'the call');
  await consumer.stop();
  t.equal(await env.savedOffset(), undefined, 'not processed, not saved');
  dispatcher.hang = false;
  const again = consumerOn(env, dispatcher);
  again.consumer.start();
  await again.until(() => dispatcher.deliveries.length === 2, 'delivered again');
  t.same(dispatcher.offsets(), [1, 1]);
  await again.consumer.stop();
  t.equal(await env.savedOffset(), 1);
});

t.test('startEventing: one singleton per subscription; problems and a store without events by tag are logged', async (t) => {
  const env = await setup();
  const names: string[] = [];
  const cluster = {
    singleton: (options: { name: string }) => {
      names.push(options.name);
      return { close: async () => undefined };
    },
  };
  const logger = recordingLogger();
  const m = model(
    { name: 'a.Sub', methods: [method('a.Sub', 'One', 'a.E1', fromLog('log')), method('a.Sub', 'Two', 'a.E1', fromLog('log-2', 'g'))] },
    { name: 'a.Topics', methods: [method('a.Topics', 'In', 'a.E1', { in: { topic: 'tin' } })] },
  );
  const running = startEventing({ model: m, cluster, journal: env.journal, offsets: env.storage.keyValueStore, dispatcher: new FakeDispatcher(), logger });
  t.same(names, ['eventing/log/a.Sub', 'eventing/log-2/g']);
  t.same(logger.lines.map((l) => l.level), ['error'], 'the topic method, once');
  await running.stop();

  const noTags: JournalPlugin = { ...env.storage.journal, capabilities: { ...env.storage.journal.capabilities, eventsByTag: false } } as JournalPlugin;
  const logger2 = recordingLogger();
  names.length = 0;
  const none = startEventing({ model: m, cluster, journal: new Journal(noTags), offsets: env.storage.keyValueStore, dispatcher: new FakeDispatcher(), logger: logger2 });
  t.same(names, [], 'nothing started');
  t.same(none.subscriptions, []);
  t.ok(logger2.lines.some((l) => l.level === 'error' && l.msg === 'a.Sub.One consumes the event log "log", but this store cannot query events by tag: not consumed'), 'the method named');
  await none.stop();
});

t.test('startEventing: its settings reach every consumer (a poll interval honoured)', async (t) => {
  const env = await setup();
  await env.write('x', A);
  const scheduler = new ManualScheduler();
  const dispatcher = new FakeDispatcher();
  dispatcher.now = () => scheduler.monotonic();
  let hosted = 0;
  const cluster = {
    singleton: (options: { create?: () => unknown }) => {
      const behavior = options.create!() as { stop(): Promise<void> };
      hosted++;
      return { close: () => behavior.stop() };
    },
  };
  const m = model({ name: 's.Sub', methods: [method('s.Sub', 'OnA', 'p.A', fromLog(TAG, subscription.consumerGroup))] });
  const eventing = startEventing({ model: m, cluster, journal: env.journal, offsets: env.storage.keyValueStore, dispatcher, settings: { pollIntervalMs: 5_000 }, clock: scheduler, scheduler, random: new SeededRandom(1) });
  t.equal(hosted, 1, 'one consumer, hosted here');
  for (let i = 0; i < 100 && dispatcher.deliveries.length < 1; i++) await scheduler.advanceAsync(10);
  t.equal(dispatcher.deliveries.length, 1, 'the first event');
  await env.write('y', A);
  for (let i = 0; i < 100 && dispatcher.deliveries.length < 2; i++) await scheduler.advanceAsync(100);
  t.equal(dispatcher.deliveries.length, 2, 'the later event, at the next poll');
  const gap = dispatcher.deliveries[1]!.at - dispatcher.deliveries[0]!.at;
  t.ok(gap >= 5_000 && gap <= 5_100, `the next poll came after 5,000 ms, not the default 200 ms (gap ${gap} ms)`);
  await eventing.stop();
  t.equal(await env.savedOffset(), 2, 'stopping the singleton stops the consumer, saving its offset');
});
