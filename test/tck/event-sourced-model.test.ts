// TCK model tests, event-sourced entities: the TCK plays the proxy against the TCK model
// implemented with this package's user-function library (test/tck/model), and checks every
// answer exactly (reference: EventSourcedEntityTCK "verifyEventSourcedEntityModel").
// The model snapshots every 5 events; its state is the concatenation of the emitted values.
import t from 'tap';
import { EntityType } from '../../src/protocol/index.js';
import { startModelUserFunction } from './model/server.js';
import { es, effects } from './support/protocol-messages.js';
import { eventSourcedModel as M, entityIds } from './support/models.js';
import { TestProtocol, servicesInDescriptorSet } from './support/test-protocol.js';

const userFunction = await startModelUserFunction();
t.teardown(() => userFunction.stop());
const protocol = new TestProtocol(`127.0.0.1:${userFunction.port}`);
t.teardown(() => protocol.close());
const spec = await protocol.discover();
const nextId = entityIds('es-model');
const entity = (service: string) => spec.entities?.find((e) => e.service_name === service);

/** One protocol exchange on a fresh entity id; it throws with both messages on any difference. */
const exchange = (name: string, run: (id: string) => PromiseLike<unknown>) =>
  t.test(name, async (t) => {
    await run(nextId());
    t.pass('the user function answered exactly as expected');
  });

t.test('verify event sourced entity discovery', async (t) => {
  const services = servicesInDescriptorSet(spec.proto!);
  t.ok(services.includes(M.service) && services.includes(M.serviceTwo), 'both services are in the descriptor set');
  t.equal(entity(M.service)?.entity_type, EntityType.eventSourced);
  t.equal(entity(M.serviceTwo)?.entity_type, EntityType.eventSourced);
  t.equal(entity(M.service)?.persistence_id, M.persistenceId);
});

t.test('verify event sourced configured entity', async (t) => {
  t.ok(servicesInDescriptorSet(spec.proto!).includes(M.serviceConfigured), 'in the descriptor set');
  const configured = entity(M.serviceConfigured);
  t.equal(configured?.entity_type, EntityType.eventSourced);
  t.equal(configured?.persistence_id, M.persistenceIdConfigured);
  t.same(configured?.passivation_strategy, { timeout: { timeout: 100 } }, 'passivation timeout of 100 ms');
});

exchange('verify initial empty state', (id) =>
  protocol.eventSourced.connect().send(es.init(M.service, id)).send(es.command(1, id, 'Process', M.request(id))).expect(es.reply(1, M.response())).passivate(),
);

exchange('verify single emitted event', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, M.emitEvents('A'))))
    .expect(es.reply(1, M.response('A'), M.events('A')))
    .send(es.command(2, id, 'Process', M.request(id)))
    .expect(es.reply(2, M.response('A')))
    .passivate(),
);

exchange('verify multiple emitted events', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, M.emitEvents('A', 'B', 'C'))))
    .expect(es.reply(1, M.response('ABC'), M.events('A', 'B', 'C')))
    .send(es.command(2, id, 'Process', M.request(id)))
    .expect(es.reply(2, M.response('ABC')))
    .passivate(),
);

exchange('verify multiple emitted events and snapshots', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, M.emitEvents('A'))))
    .expect(es.reply(1, M.response('A'), M.events('A')))
    .send(es.command(2, id, 'Process', M.request(id, M.emitEvents('B'))))
    .expect(es.reply(2, M.response('AB'), M.events('B')))
    .send(es.command(3, id, 'Process', M.request(id, M.emitEvents('C'))))
    .expect(es.reply(3, M.response('ABC'), M.events('C')))
    .send(es.command(4, id, 'Process', M.request(id, M.emitEvents('D'))))
    .expect(es.reply(4, M.response('ABCD'), M.events('D')))
    .send(es.command(5, id, 'Process', M.request(id, M.emitEvents('E'))))
    .expect(es.reply(5, M.response('ABCDE'), M.snapshotAndEvents('ABCDE', 'E')))
    .send(es.command(6, id, 'Process', M.request(id, M.emitEvents('F', 'G', 'H'))))
    .expect(es.reply(6, M.response('ABCDEFGH'), M.events('F', 'G', 'H')))
    .send(es.command(7, id, 'Process', M.request(id, M.emitEvents('I', 'J'))))
    .expect(es.reply(7, M.response('ABCDEFGHIJ'), M.snapshotAndEvents('ABCDEFGHIJ', 'I', 'J')))
    .send(es.command(8, id, 'Process', M.request(id, M.emitEvents('K'))))
    .expect(es.reply(8, M.response('ABCDEFGHIJK'), M.events('K')))
    .send(es.command(9, id, 'Process', M.request(id)))
    .expect(es.reply(9, M.response('ABCDEFGHIJK')))
    .passivate(),
);

exchange('verify initial snapshot', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id, { sequence: 5, payload: M.persisted('ABCDE') }))
    .send(es.command(1, id, 'Process', M.request(id)))
    .expect(es.reply(1, M.response('ABCDE')))
    .passivate(),
);

exchange('verify initial snapshot and events', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id, { sequence: 5, payload: M.persisted('ABCDE') }))
    .send(es.event(6, M.persisted('F')))
    .send(es.event(7, M.persisted('G')))
    .send(es.command(1, id, 'Process', M.request(id)))
    .expect(es.reply(1, M.response('ABCDEFG')))
    .passivate(),
);

exchange('verify rehydration after passivation', async (id) => {
  await protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, M.emitEvents('A', 'B', 'C'))))
    .expect(es.reply(1, M.response('ABC'), M.events('A', 'B', 'C')))
    .send(es.command(2, id, 'Process', M.request(id, M.emitEvents('D', 'E'))))
    .expect(es.reply(2, M.response('ABCDE'), M.snapshotAndEvents('ABCDE', 'D', 'E')))
    .send(es.command(3, id, 'Process', M.request(id, M.emitEvents('F'))))
    .expect(es.reply(3, M.response('ABCDEF'), M.events('F')))
    .send(es.command(4, id, 'Process', M.request(id, M.emitEvents('G'))))
    .expect(es.reply(4, M.response('ABCDEFG'), M.events('G')))
    .passivate();
  await protocol.eventSourced
    .connect()
    .send(es.init(M.service, id, { sequence: 5, payload: M.persisted('ABCDE') }))
    .send(es.event(6, M.persisted('F')))
    .send(es.event(7, M.persisted('G')))
    .send(es.command(1, id, 'Process', M.request(id)))
    .expect(es.reply(1, M.response('ABCDEFG')))
    .passivate();
});

exchange('verify forward to second service', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, M.emitEvents('A', 'B', 'C'))))
    .expect(es.reply(1, M.response('ABC'), M.events('A', 'B', 'C')))
    .send(es.command(2, id, 'Process', M.request(id, [M.forwardTo(id)])))
    .expect(es.forward(2, M.serviceTwo, 'Call', M.request(id)))
    .send(es.command(3, id, 'Process', M.request(id)))
    .expect(es.reply(3, M.response('ABC')))
    .passivate(),
);

exchange('verify forward with emitted events', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, [M.emitEvent('A'), M.forwardTo(id)])))
    .expect(es.forward(1, M.serviceTwo, 'Call', M.request(id), M.events('A')))
    .passivate(),
);

exchange('verify forward with emitted events and snapshot', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, M.emitEvents('A', 'B', 'C'))))
    .expect(es.reply(1, M.response('ABC'), M.events('A', 'B', 'C')))
    .send(es.command(2, id, 'Process', M.request(id, [M.emitEvent('D'), M.emitEvent('E'), M.forwardTo(id)])))
    .expect(es.forward(2, M.serviceTwo, 'Call', M.request(id), M.snapshotAndEvents('ABCDE', 'D', 'E')))
    .passivate(),
);

exchange('verify reply with side effect to second service', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, M.emitEvents('A', 'B', 'C'))))
    .expect(es.reply(1, M.response('ABC'), M.events('A', 'B', 'C')))
    .send(es.command(2, id, 'Process', M.request(id, [M.sideEffectTo(id)])))
    .expect(es.reply(2, M.response('ABC'), M.sideEffects(id)))
    .send(es.command(3, id, 'Process', M.request(id)))
    .expect(es.reply(3, M.response('ABC')))
    .passivate(),
);

exchange('verify synchronous side effect to second service', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, [M.sideEffectTo(id, true)])))
    .expect(es.reply(1, M.response(), M.synchronousSideEffects(id)))
    .passivate(),
);

exchange('verify forward and side effect to second service', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, [M.sideEffectTo(id), M.forwardTo(id)])))
    .expect(es.forward(1, M.serviceTwo, 'Call', M.request(id), M.sideEffects(id)))
    .passivate(),
);

exchange('verify reply with multiple side effects', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, M.sideEffectsTo('1', '2', '3'))))
    .expect(es.reply(1, M.response(), M.sideEffects('1', '2', '3')))
    .passivate(),
);

exchange('verify reply with multiple side effects, events, and snapshot', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, [...M.emitEvents('A', 'B', 'C', 'D', 'E'), ...M.sideEffectsTo('1', '2', '3')])))
    .expect(es.reply(1, M.response('ABCDE'), effects(M.snapshotAndEvents('ABCDE', 'A', 'B', 'C', 'D', 'E'), M.sideEffects('1', '2', '3'))))
    .passivate(),
);

exchange('verify failure action', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, [M.failWith('expected failure')])))
    .expect(es.actionFailure(1, 'expected failure'))
    .passivate(),
);

exchange('verify connection after failure action', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, [M.emitEvent('A')])))
    .expect(es.reply(1, M.response('A'), M.events('A')))
    .send(es.command(2, id, 'Process', M.request(id, [M.failWith('expected failure')])))
    .expect(es.actionFailure(2, 'expected failure'))
    .send(es.command(3, id, 'Process', M.request(id)))
    .expect(es.reply(3, M.response('A')))
    .passivate(),
);

t.test('verify failure actions do not retain emitted events (may request entity restart)', async (t) => {
  const id = nextId();
  const connection = await protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, M.emitEvents('A', 'B', 'C'))))
    .expect(es.reply(1, M.response('ABC'), M.events('A', 'B', 'C')))
    .send(es.command(2, id, 'Process', M.request(id, [M.emitEvent('4'), M.emitEvent('5'), M.failWith('failure 1')])));
  const out = await connection.nextMessage();
  const failure = out.reply?.client_action?.failure;
  t.ok(failure, 'the command is answered with a failure');
  t.equal(failure.command_id ?? 0, 2, 'for command 2');
  t.equal(failure.description, 'failure 1');
  t.same(out.reply.events ?? [], [], 'and no events');
  if (failure.restart) {
    // The library asks for a restart after a failure that followed emitted events.
    await connection.chain().passivate();
    await protocol.eventSourced
      .connect()
      .send(es.init(M.service, id))
      .send(es.event(1, M.persisted('A')))
      .send(es.event(2, M.persisted('B')))
      .send(es.event(3, M.persisted('C')))
      .send(es.command(1, id, 'Process', M.request(id, M.emitEvents('D'))))
      .expect(es.reply(1, M.response('ABCD'), M.events('D')))
      .send(es.command(2, id, 'Process', M.request(id, [M.emitEvent('6'), M.failWith('failure 2'), M.emitEvent('7')])))
      .expect(es.actionFailure(2, 'failure 2', true))
      .passivate();
    await protocol.eventSourced
      .connect()
      .send(es.init(M.service, id))
      .send(es.event(1, M.persisted('A')))
      .send(es.event(2, M.persisted('B')))
      .send(es.event(3, M.persisted('C')))
      .send(es.event(4, M.persisted('D')))
      .send(es.command(1, id, 'Process', M.request(id, M.emitEvents('E'))))
      .expect(es.reply(1, M.response('ABCDE'), M.snapshotAndEvents('ABCDE', 'E')))
      .passivate();
  } else {
    // No restart: the failed command's events were dropped and the state rolled back.
    await connection
      .chain()
      .send(es.command(3, id, 'Process', M.request(id, M.emitEvents('D'))))
      .expect(es.reply(3, M.response('ABCD'), M.events('D')))
      .send(es.command(4, id, 'Process', M.request(id, [M.emitEvent('6'), M.failWith('failure 2'), M.emitEvent('7')])))
      .expect(es.actionFailure(4, 'failure 2'))
      .send(es.command(5, id, 'Process', M.request(id, M.emitEvents('E'))))
      .expect(es.reply(5, M.response('ABCDE'), M.snapshotAndEvents('ABCDE', 'E')))
      .passivate();
  }
});

exchange('verify failure actions do not allow side effects', (id) =>
  protocol.eventSourced
    .connect()
    .send(es.init(M.service, id))
    .send(es.command(1, id, 'Process', M.request(id, [M.sideEffectTo(id), M.failWith('expected failure')])))
    .expect(es.actionFailure(1, 'expected failure'))
    .passivate(),
);
