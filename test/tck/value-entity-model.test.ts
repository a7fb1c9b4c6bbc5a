// TCK model tests, value entities: the TCK plays the proxy against the TCK model implemented
// with this package's user-function library (test/tck/model), and checks every answer exactly
// (reference: EntityTCK "verifyEntityModel"). The state is a string kept in a Persisted message.
import t from 'tap';
import { EntityType } from '../../src/protocol/index.js';
import { startModelUserFunction } from './model/server.js';
import { effects, ve } from './support/protocol-messages.js';
import { valueEntityModel as M, entityIds } from './support/models.js';
import { TestProtocol, servicesInDescriptorSet } from './support/test-protocol.js';

const userFunction = await startModelUserFunction();
t.teardown(() => userFunction.stop());
const protocol = new TestProtocol(`127.0.0.1:${userFunction.port}`);
t.teardown(() => protocol.close());
const spec = await protocol.discover();
const nextId = entityIds('ve-model');
const entity = (service: string) => spec.entities?.find((e) => e.service_name === service);

/** One protocol exchange on a fresh entity id; it throws with both messages on any difference. */
const exchange = (name: string, run: (id: string) => PromiseLike<unknown>) =>
  t.test(name, async (t) => {
    await run(nextId());
    t.pass('the user function answered exactly as expected');
  });

t.test('verify entity discovery', async (t) => {
  const services = servicesInDescriptorSet(spec.proto!);
  t.ok(services.includes(M.service) && services.includes(M.serviceTwo), 'both services are in the descriptor set');
  t.equal(entity(M.service)?.entity_type, EntityType.valueEntity);
  t.equal(entity(M.serviceTwo)?.entity_type, EntityType.valueEntity);
  t.equal(entity(M.service)?.persistence_id, M.persistenceId);
  t.equal(entity(M.serviceTwo)?.persistence_id, M.persistenceIdTwo);
});

t.test('verify configured entity', async (t) => {
  t.ok(servicesInDescriptorSet(spec.proto!).includes(M.serviceConfigured), 'in the descriptor set');
  const configured = entity(M.serviceConfigured);
  t.equal(configured?.entity_type, EntityType.valueEntity);
  t.equal(configured?.persistence_id, M.persistenceIdConfigured);
  t.same(configured?.passivation_strategy, { timeout: { timeout: 100 } }, 'passivation timeout of 100 ms');
});

exchange('verify initial empty state', (id) =>
  protocol.valueEntity.connect().send(ve.init(M.service, id)).send(ve.command(1, id, 'Process', M.request(id))).expect(ve.reply(1, M.response())).passivate(),
);

exchange('verify update state', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, M.updateStates('A'))))
    .expect(ve.reply(1, M.response('A'), M.update('A')))
    .send(ve.command(2, id, 'Process', M.request(id)))
    .expect(ve.reply(2, M.response('A')))
    .passivate(),
);

exchange('verify delete state', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, M.updateStates('A'))))
    .expect(ve.reply(1, M.response('A'), M.update('A')))
    .send(ve.command(2, id, 'Process', M.request(id, [M.deleteState()])))
    .expect(ve.reply(2, M.response(), M.delete()))
    .send(ve.command(3, id, 'Process', M.request(id)))
    .expect(ve.reply(3, M.response()))
    .passivate(),
);

exchange('verify sub invocations with multiple update states', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, M.updateStates('A', 'B', 'C'))))
    .expect(ve.reply(1, M.response('C'), M.update('C')))
    .send(ve.command(2, id, 'Process', M.request(id)))
    .expect(ve.reply(2, M.response('C')))
    .passivate(),
);

exchange('verify sub invocations with multiple update states and delete states', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, [...M.updateStates('A', 'B'), M.deleteState()])))
    .expect(ve.reply(1, M.response(), M.delete()))
    .send(ve.command(2, id, 'Process', M.request(id)))
    .expect(ve.reply(2, M.response()))
    .passivate(),
);

exchange('verify sub invocations with update, delete and update states', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, [M.updateState('A'), M.deleteState(), M.updateState('B')])))
    .expect(ve.reply(1, M.response('B'), M.update('B')))
    .send(ve.command(2, id, 'Process', M.request(id)))
    .expect(ve.reply(2, M.response('B')))
    .passivate(),
);

exchange('verify rehydration after passivation', async (id) => {
  await protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, M.updateStates('A'))))
    .expect(ve.reply(1, M.response('A'), M.update('A')))
    .send(ve.command(2, id, 'Process', M.request(id, M.updateStates('B'))))
    .expect(ve.reply(2, M.response('B'), M.update('B')))
    .send(ve.command(3, id, 'Process', M.request(id, M.updateStates('C'))))
    .expect(ve.reply(3, M.response('C'), M.update('C')))
    .send(ve.command(4, id, 'Process', M.request(id, M.updateStates('D'))))
    .expect(ve.reply(4, M.response('D'), M.update('D')))
    .passivate();
  await protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id, M.persisted('D')))
    .send(ve.command(1, id, 'Process', M.request(id, M.updateStates('E'))))
    .expect(ve.reply(1, M.response('E'), M.update('E')))
    .send(ve.command(2, id, 'Process', M.request(id)))
    .expect(ve.reply(2, M.response('E')))
    .passivate();
});

exchange('verify reply with multiple side effects', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, ['1', '2', '3'].map((n) => M.sideEffectTo(n)))))
    .expect(ve.reply(1, M.response(), M.sideEffects('1', '2', '3')))
    .passivate(),
);

exchange('verify reply with side effect to second service', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, M.updateStates('X'))))
    .expect(ve.reply(1, M.response('X'), M.update('X')))
    .send(ve.command(2, id, 'Process', M.request(id, [M.sideEffectTo(id)])))
    .expect(ve.reply(2, M.response('X'), M.sideEffects(id)))
    .send(ve.command(3, id, 'Process', M.request(id)))
    .expect(ve.reply(3, M.response('X')))
    .passivate(),
);

exchange('verify reply with multiple side effects and state', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, [...M.updateStates('A', 'B', 'C', 'D', 'E'), ...['1', '2', '3'].map((n) => M.sideEffectTo(n))])))
    .expect(ve.reply(1, M.response('E'), effects(M.sideEffects('1', '2', '3'), M.update('E'))))
    .passivate(),
);

exchange('verify synchronous side effect to second service', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, [M.sideEffectTo(id, true)])))
    .expect(ve.reply(1, M.response(), M.synchronousSideEffects(id)))
    .passivate(),
);

exchange('verify forward to second service', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, M.updateStates('X'))))
    .expect(ve.reply(1, M.response('X'), M.update('X')))
    .send(ve.command(2, id, 'Process', M.request(id, [M.forwardTo(id)])))
    .expect(ve.forward(2, M.serviceTwo, 'Call', M.request(id)))
    .send(ve.command(3, id, 'Process', M.request(id)))
    .expect(ve.reply(3, M.response('X')))
    .passivate(),
);

exchange('verify forward with updated state to second service', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, [M.updateState('A'), M.forwardTo(id)])))
    .expect(ve.forward(1, M.serviceTwo, 'Call', M.request(id), M.update('A')))
    .passivate(),
);

exchange('verify forward and side effect to second service', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, [M.sideEffectTo(id), M.forwardTo(id)])))
    .expect(ve.forward(1, M.serviceTwo, 'Call', M.request(id), M.sideEffects(id)))
    .passivate(),
);

exchange('verify failure action', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, [M.failWith('expected failure')])))
    .expect(ve.actionFailure(1, 'expected failure'))
    .passivate(),
);

exchange('verify connection after failure action', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, [M.updateState('A')])))
    .expect(ve.reply(1, M.response('A'), M.update('A')))
    .send(ve.command(2, id, 'Process', M.request(id, [M.failWith('expected failure')])))
    .expect(ve.actionFailure(2, 'expected failure'))
    .send(ve.command(3, id, 'Process', M.request(id)))
    .expect(ve.reply(3, M.response('A')))
    .passivate(),
);

exchange('verify failure action do not allow side effects', (id) =>
  protocol.valueEntity
    .connect()
    .send(ve.init(M.service, id))
    .send(ve.command(1, id, 'Process', M.request(id, [M.sideEffectTo(id), M.failWith('expected failure')])))
    .expect(ve.actionFailure(1, 'expected failure'))
    .passivate(),
);
