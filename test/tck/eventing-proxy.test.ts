// TCK proxy tests, event-log eventing (reference: EventingTCK "verifyEventingProxy"): an
// event-sourced entity of the TCK model writes an event; the proxy consumes the event log
// (tag = the entity type's persistence id) and calls the subscribed method of the
// EventLogSubscriberModel action with the event as a CloudEvent: the original Any as payload and
// the `ce-*` metadata. The interceptor checks every protocol message, metadata included.
import t, { type Test } from 'tap';
import { packJson } from '../../src/function/index.js';
import type { Any } from '../../src/protocol/index.js';
import { ENTITY_ONE, ENTITY_TWO, SUBSCRIBER } from './model/eventing.js';
import { startModelUserFunction } from './model/server.js';
import { any } from './support/codec.js';
import { startTck } from './support/harness.js';
import type { ConnectionChain, InterceptedConnection } from './support/intercepted-connection.js';
import { action, emptyPayload, es } from './support/protocol-messages.js';

const tck = await startTck({ startUserFunction: startModelUserFunction });
const { client, interceptor } = tck;
t.teardown(() => tck.stop());
t.afterEach(() => interceptor.verifyNoMoreInteractions());

const PACKAGE = 'cloudstate.tck.model.eventlogeventing';
const T = (name: string) => `${PACKAGE}.${name}`;
/** How long the proxy may take to pick an event up (it polls the journal every 200 ms; the machine is shared). */
const CONSUME_MS = 10_000;

type Step = { reply: { message: string } } | { forward: { message: string } };
const reply = (message: string): Step => ({ reply: { message } });
const forward = (message: string): Step => ({ forward: { message } });

/** The entity's side of an emit: init, the command, and a reply with the one event. */
async function expectEmitted(service: string, id: string, name: string, request: Any, event: Any): Promise<void> {
  await interceptor
    .expectEventSourcedConnection()
    .expectIncoming(es.init(service, id))
    .expectIncoming(es.command(1, id, name, request))
    .expectOutgoing(es.reply(1, emptyPayload, { events: [event] }));
}

/**
 * Takes the subscriber's command on `connection` and checks it exactly: service, method, the
 * original event as payload, and the CloudEvent metadata (`ce-id` is the event's offset, a
 * positive decimal; `ce-time` when it was written, between `since` and now).
 */
async function expectCloudEventCommand(
  t: Test,
  chain: ConnectionChain,
  expected: { name: string; eventLog: string; subject: string; event: Any; since: number },
): Promise<InterceptedConnection> {
  const connection = await chain;
  const command = await connection.nextIncoming(CONSUME_MS);
  t.equal(command.service_name, SUBSCRIBER, 'the subscriber service');
  t.equal(command.name, expected.name, `the subscribed method ${expected.name}`);
  t.equal(command.payload?.type_url, expected.event.type_url, 'the payload is the event as written: its type URL');
  t.same(Buffer.from(command.payload?.value ?? []), Buffer.from(expected.event.value ?? []), 'and its bytes');
  const entries: Array<{ key: string; string_value?: string }> = command.metadata?.entries ?? [];
  t.same(
    entries.map((e) => e.key),
    ['ce-id', 'ce-source', 'ce-specversion', 'ce-type', 'Content-Type', 'ce-subject', 'ce-time'],
    'the CloudEvent metadata, in binary mode',
  );
  const value = (key: string) => entries.find((e) => e.key === key)?.string_value ?? '';
  t.match(value('ce-id'), /^[1-9][0-9]*$/, 'ce-id: the offset in the event log');
  t.same(
    { source: value('ce-source'), specversion: value('ce-specversion'), type: value('ce-type'), contentType: value('Content-Type'), subject: value('ce-subject') },
    { source: expected.eventLog, specversion: '1.0', type: expected.event.type_url, contentType: 'application/vnd.cloudstate.protobuf.any', subject: expected.subject },
    'ce-source is the event log, ce-type the event type URL, ce-subject the entity id',
  );
  const time = Date.parse(value('ce-time'));
  t.ok(time >= expected.since - 1_000 && time <= Date.now() + 1_000, `ce-time ${value('ce-time')} is when the event was written`);
  return connection;
}

const emitEventOne = async (t: Test, id: string, step: Step) => {
  const eventOne = { step };
  t.same(await client.call(T('EventSourcedEntityOne'), 'EmitEvent', { id, event_one: eventOne }), {});
  await expectEmitted(ENTITY_ONE, id, 'EmitEvent', any(T('EmitEventRequest'), { id, event_one: eventOne }), any(T('EventOne'), eventOne));
  return any(T('EventOne'), eventOne);
};

t.test('consume an event', async (t) => {
  const id = 'eventlogeventing:1';
  const since = Date.now();
  const event = await emitEventOne(t, id, reply('some message'));
  const subscriber = interceptor.expectActionUnaryConnection(CONSUME_MS);
  const connection = await expectCloudEventCommand(t, subscriber, { name: 'ProcessEventOne', eventLog: 'eventlogeventing-one', subject: id, event, since });
  await connection.expectOutgoing(action.reply(any(T('Response'), { id, message: 'some message' })));
});

t.test('forward a consumed event', async (t) => {
  const id = 'eventlogeventing:2';
  const since = Date.now();
  const event = await emitEventOne(t, id, forward('some message'));
  const subscriber = interceptor.expectActionUnaryConnection(CONSUME_MS);
  const connection = await expectCloudEventCommand(t, subscriber, { name: 'ProcessEventOne', eventLog: 'eventlogeventing-one', subject: id, event, since });
  const effectRequest = any(T('EffectRequest'), { id, message: 'some message' });
  await connection.expectOutgoing(action.forward(SUBSCRIBER, 'Effect', effectRequest));
  // The forward runs as for an ingress call: the proxy calls Effect.
  await interceptor
    .expectActionUnaryConnection()
    .expectIncoming(action.command(SUBSCRIBER, 'Effect', effectRequest))
    .expectOutgoing(action.reply(any(T('Response'), { id, message: 'some message' })));
});

t.test('process json events', async (t) => {
  const id = 'eventlogeventing:3';
  const since = Date.now();
  t.same(await client.call(T('EventSourcedEntityTwo'), 'EmitJsonEvent', { id, message: 'some json message' }), {});
  const event = packJson({ type: 'JsonEvent', message: 'some json message' });
  t.equal(event.type_url, 'json.cloudstate.io/JsonEvent');
  await expectEmitted(ENTITY_TWO, id, 'EmitJsonEvent', any(T('JsonEvent'), { id, message: 'some json message' }), event);
  const subscriber = interceptor.expectActionUnaryConnection(CONSUME_MS);
  const connection = await expectCloudEventCommand(t, subscriber, { name: 'ProcessAnyEvent', eventLog: 'eventlogeventing-two', subject: id, event, since });
  await connection.expectOutgoing(action.reply(any(T('Response'), { id, message: 'some json message' })));
});

t.test('consume an event with a server-streaming method', async (t) => {
  const id = 'eventlogeventing:4';
  const since = Date.now();
  const eventTwo = { step: [reply('first'), reply('second')] };
  t.same(await client.call(T('EventSourcedEntityOne'), 'EmitEvent', { id, event_two: eventTwo }), {});
  const event = any(T('EventTwo'), eventTwo);
  await expectEmitted(ENTITY_ONE, id, 'EmitEvent', any(T('EmitEventRequest'), { id, event_two: eventTwo }), event);
  const subscriber = interceptor.expectActionStreamedOutConnection(CONSUME_MS);
  const connection = await expectCloudEventCommand(t, subscriber, { name: 'ProcessEventTwo', eventLog: 'eventlogeventing-one', subject: id, event, since });
  await connection
    .expectOutgoing(action.reply(any(T('Response'), { id, message: 'first' })))
    .expectOutgoing(action.reply(any(T('Response'), { id, message: 'second' })))
    .expectOutComplete();
});
