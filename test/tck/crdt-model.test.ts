// TCK model tests, CRDT entities: the TCK plays the proxy against the TCK CRDT model implemented
// with this package's user-function library (test/tck/model/crdt.ts), and checks every answer
// exactly (reference: CrdtEntityTCK "verifyCrdtEntityModel"): for each of the eight CRDT types the
// initial state, local changes and their deltas, initial and replicated deltas, rehydration and
// deletes; then forwards, side effects, failures, streamed calls and write consistency. Deltas'
// elements are compared sorted, as the reference's `Delta.sorted`.
import t from 'tap';
import { EntityType } from '../../src/protocol/index.js';
import { startModelUserFunction } from './model/server.js';
import { crdt, crdtEffects as fx, sortReply, type CrdtEffects } from './support/crdt-messages.js';
import { crdtModel as M, type Response } from './support/crdt-model.js';
import { TestProtocol, servicesInDescriptorSet } from './support/test-protocol.js';

const userFunction = await startModelUserFunction({ crdt: true });
t.teardown(() => userFunction.stop());
const protocol = new TestProtocol(`127.0.0.1:${userFunction.port}`);
t.teardown(() => protocol.close());
const spec = await protocol.discover();
const entity = (service: string) => spec.entities?.find((e) => e.service_name === service);
const { GCounter, PNCounter, GSet, ORSet, LWWRegister, Flag, ORMap, Vote } = M;
const { request, requestDelete, deleteCrdt } = M;

let n = 0;
/** One exchange on a fresh entity id of CRDT type `type` (`GCounter-7`). */
const exchange = (type: string, name: string, run: (id: string) => PromiseLike<unknown>) =>
  t.test(name, async (t) => {
    await run(`${type}-${++n}`);
    t.pass('the user function answered exactly as expected');
  });
const connect = (id: string, delta?: Parameters<typeof crdt.init>[2]) => protocol.crdt.connect().send(crdt.init(M.service, id, delta));
const command = (id: number, entityId: string, actions: Parameters<typeof request>[1] = []) => crdt.command(id, entityId, 'Process', request(entityId, actions));
const reply = (id: number, response: Response, effects: CrdtEffects = {}) => crdt.reply(id, M.response(response), effects);
const streamed = (id: number, entityId: string, fields: Record<string, unknown> = {}) => crdt.command(id, entityId, 'ProcessStreamed', M.streamedRequest(entityId, fields), true);

t.test('verify CRDT entity discovery', async (t) => {
  const services = servicesInDescriptorSet(spec.proto!);
  t.ok(services.includes(M.service) && services.includes(M.serviceTwo), 'both services are in the descriptor set');
  t.equal(entity(M.service)?.entity_type, EntityType.crdt);
  t.equal(entity(M.serviceTwo)?.entity_type, EntityType.crdt);
});

t.test('verify CRDT configured entity', async (t) => {
  t.ok(servicesInDescriptorSet(spec.proto!).includes(M.serviceConfigured), 'in the descriptor set');
  t.equal(entity(M.serviceConfigured)?.entity_type, EntityType.crdt);
  t.same(entity(M.serviceConfigured)?.passivation_strategy, { timeout: { timeout: 100 } }, 'passivation timeout of 100 ms');
});

/** The cases every type has: an empty entity, a delete from the entity, a delete sent to it. */
function commonCases(type: string, empty: Response, change: { actions: ReturnType<typeof GCounter.incrementBy>; state: Response; update: CrdtEffects }) {
  exchange(type, `verify ${type} initial empty state`, (id) =>
    connect(id).send(command(1, id)).expectNormalized(reply(1, empty, type === 'LWWRegister' ? LWWRegister.update('') : {}), sortReply).passivate(),
  );
  exchange(type, `verify ${type} delete action received from entity`, (id) =>
    connect(id)
      .send(command(1, id, change.actions))
      .expectNormalized(reply(1, change.state, change.update), sortReply)
      .send(command(2, id, [requestDelete()]))
      .expect(reply(2, change.state, deleteCrdt()))
      .passivate(),
  );
  exchange(type, `verify ${type} delete action sent to entity`, (id) => connect(id).send(crdt.delete()).passivate());
}

// ---- GCounter ----

commonCases('GCounter', GCounter.state(0), { actions: GCounter.incrementBy(42), state: GCounter.state(42), update: GCounter.update(42) });

exchange('GCounter', 'verify GCounter state changes', (id) =>
  connect(id)
    .send(command(1, id, GCounter.incrementBy(42)))
    .expect(reply(1, GCounter.state(42), GCounter.update(42)))
    .send(command(2, id, GCounter.incrementBy(1, 2, 3)))
    .expect(reply(2, GCounter.state(48), GCounter.update(6)))
    .passivate(),
);
exchange('GCounter', 'verify GCounter initial delta in init', (id) =>
  connect(id, GCounter.delta(42)).send(command(1, id, GCounter.incrementBy(123))).expect(reply(1, GCounter.state(165), GCounter.update(123))).passivate(),
);
exchange('GCounter', 'verify GCounter initial empty state with replicated initial delta', (id) =>
  connect(id).send(crdt.delta(GCounter.delta(42))).send(command(1, id, GCounter.incrementBy(123))).expect(reply(1, GCounter.state(165), GCounter.update(123))).passivate(),
);
exchange('GCounter', 'verify GCounter mix of local and replicated state changes', (id) =>
  connect(id)
    .send(command(1, id, GCounter.incrementBy(1)))
    .expect(reply(1, GCounter.state(1), GCounter.update(1)))
    .send(crdt.delta(GCounter.delta(2)))
    .send(crdt.delta(GCounter.delta(3)))
    .send(command(2, id))
    .expect(reply(2, GCounter.state(6)))
    .send(command(3, id, GCounter.incrementBy(4)))
    .expect(reply(3, GCounter.state(10), GCounter.update(4)))
    .send(crdt.delta(GCounter.delta(5)))
    .send(command(4, id, GCounter.incrementBy(6)))
    .expect(reply(4, GCounter.state(21), GCounter.update(6)))
    .passivate(),
);
exchange('GCounter', 'verify GCounter rehydration after passivation', async (id) => {
  await connect(id)
    .send(command(1, id, GCounter.incrementBy(1)))
    .expect(reply(1, GCounter.state(1), GCounter.update(1)))
    .send(crdt.delta(GCounter.delta(2)))
    .send(command(2, id))
    .expect(reply(2, GCounter.state(3)))
    .send(command(3, id, GCounter.incrementBy(3)))
    .expect(reply(3, GCounter.state(6), GCounter.update(3)))
    .passivate();
  await connect(id, GCounter.delta(6))
    .send(command(1, id))
    .expect(reply(1, GCounter.state(6)))
    .send(crdt.delta(GCounter.delta(4)))
    .send(command(2, id, GCounter.incrementBy(5)))
    .expect(reply(2, GCounter.state(15), GCounter.update(5)))
    .passivate();
});

// ---- PNCounter ----

commonCases('PNCounter', PNCounter.state(0), { actions: PNCounter.changeBy(+42), state: PNCounter.state(42), update: PNCounter.update(42) });

exchange('PNCounter', 'verify PNCounter state changes', (id) =>
  connect(id)
    .send(command(1, id, PNCounter.changeBy(+1, -2, +3)))
    .expect(reply(1, PNCounter.state(+2), PNCounter.update(+2)))
    .send(command(2, id, PNCounter.changeBy(-4, +5, -6)))
    .expect(reply(2, PNCounter.state(-3), PNCounter.update(-5)))
    .passivate(),
);
exchange('PNCounter', 'verify PNCounter initial delta in init', (id) =>
  connect(id, PNCounter.delta(42)).send(command(1, id, PNCounter.changeBy(-123))).expect(reply(1, PNCounter.state(-81), PNCounter.update(-123))).passivate(),
);
exchange('PNCounter', 'verify PNCounter initial empty state with replicated initial delta', (id) =>
  connect(id).send(crdt.delta(PNCounter.delta(-42))).send(command(1, id, PNCounter.changeBy(+123))).expect(reply(1, PNCounter.state(81), PNCounter.update(+123))).passivate(),
);
exchange('PNCounter', 'verify PNCounter mix of local and replicated state changes', (id) =>
  connect(id)
    .send(command(1, id, PNCounter.changeBy(+1)))
    .expect(reply(1, PNCounter.state(+1), PNCounter.update(+1)))
    .send(crdt.delta(PNCounter.delta(-2)))
    .send(crdt.delta(PNCounter.delta(+3)))
    .send(command(2, id))
    .expect(reply(2, PNCounter.state(+2)))
    .send(command(3, id, PNCounter.changeBy(-4)))
    .expect(reply(3, PNCounter.state(-2), PNCounter.update(-4)))
    .send(crdt.delta(PNCounter.delta(+5)))
    .send(command(4, id, PNCounter.changeBy(-6)))
    .expect(reply(4, PNCounter.state(-3), PNCounter.update(-6)))
    .passivate(),
);
exchange('PNCounter', 'verify PNCounter rehydration after passivation', async (id) => {
  await connect(id)
    .send(command(1, id, PNCounter.changeBy(+1)))
    .expect(reply(1, PNCounter.state(+1), PNCounter.update(+1)))
    .send(crdt.delta(PNCounter.delta(-2)))
    .send(command(2, id))
    .expect(reply(2, PNCounter.state(-1)))
    .send(command(3, id, PNCounter.changeBy(+3)))
    .expect(reply(3, PNCounter.state(+2), PNCounter.update(+3)))
    .passivate();
  await connect(id, PNCounter.delta(+2))
    .send(command(1, id))
    .expect(reply(1, PNCounter.state(+2)))
    .send(crdt.delta(PNCounter.delta(-4)))
    .send(command(2, id, PNCounter.changeBy(+5)))
    .expect(reply(2, PNCounter.state(+3), PNCounter.update(+5)))
    .passivate();
});

// ---- GSet ----

commonCases('GSet', GSet.state(), { actions: GSet.add('x'), state: GSet.state('x'), update: GSet.update('x') });

exchange('GSet', 'verify GSet state changes', (id) =>
  connect(id)
    .send(command(1, id, GSet.add('a', 'b')))
    .expectNormalized(reply(1, GSet.state('a', 'b'), GSet.update('a', 'b')), sortReply)
    .send(command(2, id, GSet.add('b', 'c')))
    .expect(reply(2, GSet.state('a', 'b', 'c'), GSet.update('c')))
    .send(command(3, id, GSet.add('c', 'a')))
    .expect(reply(3, GSet.state('a', 'b', 'c')))
    .passivate(),
);
exchange('GSet', 'verify GSet initial delta in init', (id) =>
  connect(id, GSet.delta('a', 'b', 'c'))
    .send(command(1, id, GSet.add('c', 'd', 'e')))
    .expectNormalized(reply(1, GSet.state('a', 'b', 'c', 'd', 'e'), GSet.update('d', 'e')), sortReply)
    .passivate(),
);
exchange('GSet', 'verify GSet initial empty state with replicated initial delta', (id) =>
  connect(id).send(crdt.delta(GSet.delta('x', 'y'))).send(command(1, id, GSet.add('z'))).expect(reply(1, GSet.state('x', 'y', 'z'), GSet.update('z'))).passivate(),
);
exchange('GSet', 'verify GSet mix of local and replicated state changes', (id) =>
  connect(id)
    .send(command(1, id, GSet.add('a')))
    .expect(reply(1, GSet.state('a'), GSet.update('a')))
    .send(crdt.delta(GSet.delta('a')))
    .send(crdt.delta(GSet.delta('b')))
    .send(crdt.delta(GSet.delta('c')))
    .send(command(2, id))
    .expect(reply(2, GSet.state('a', 'b', 'c')))
    .send(command(3, id, GSet.add('c', 'd', 'e')))
    .expectNormalized(reply(3, GSet.state('a', 'b', 'c', 'd', 'e'), GSet.update('d', 'e')), sortReply)
    .send(crdt.delta(GSet.delta('f')))
    .send(command(4, id, GSet.add('g', 'd', 'b')))
    .expect(reply(4, GSet.state('a', 'b', 'c', 'd', 'e', 'f', 'g'), GSet.update('g')))
    .passivate(),
);
exchange('GSet', 'verify GSet rehydration after passivation', async (id) => {
  await connect(id)
    .send(command(1, id, GSet.add('a')))
    .expect(reply(1, GSet.state('a'), GSet.update('a')))
    .send(crdt.delta(GSet.delta('b')))
    .send(command(2, id))
    .expect(reply(2, GSet.state('a', 'b')))
    .send(command(3, id, GSet.add('c')))
    .expect(reply(3, GSet.state('a', 'b', 'c'), GSet.update('c')))
    .passivate();
  await connect(id, GSet.delta('a', 'b', 'c'))
    .send(command(1, id))
    .expect(reply(1, GSet.state('a', 'b', 'c')))
    .send(crdt.delta(GSet.delta('d')))
    .send(command(2, id, GSet.add('e')))
    .expect(reply(2, GSet.state('a', 'b', 'c', 'd', 'e'), GSet.update('e')))
    .passivate();
});

// ---- ORSet ----

commonCases('ORSet', ORSet.state(), { actions: ORSet.add('x'), state: ORSet.state('x'), update: ORSet.update({ added: ['x'] }) });

exchange('ORSet', 'verify ORSet state changes', (id) =>
  connect(id)
    .send(command(1, id, ORSet.add('a', 'b')))
    .expectNormalized(reply(1, ORSet.state('a', 'b'), ORSet.update({ added: ['a', 'b'] })), sortReply)
    .send(command(2, id, ORSet.add('b', 'c')))
    .expect(reply(2, ORSet.state('a', 'b', 'c'), ORSet.update({ added: ['c'] })))
    .send(command(3, id, ORSet.add('c', 'a')))
    .expect(reply(3, ORSet.state('a', 'b', 'c')))
    .send(command(4, id, ORSet.remove('b', 'd')))
    .expect(reply(4, ORSet.state('a', 'c'), ORSet.update({ removed: ['b'] })))
    .send(command(5, id, [...ORSet.remove('c', 'd'), ...ORSet.add('b', 'c')]))
    .expect(reply(5, ORSet.state('a', 'b', 'c'), ORSet.update({ added: ['b'] })))
    .send(command(6, id, ORSet.clear()))
    .expect(reply(6, ORSet.state(), ORSet.update({ cleared: true })))
    .send(command(7, id, [...ORSet.add('a'), ...ORSet.clear(), ...ORSet.add('x')]))
    .expect(reply(7, ORSet.state('x'), ORSet.update({ cleared: true, added: ['x'] })))
    .passivate(),
);
exchange('ORSet', 'verify ORSet initial delta in init', (id) =>
  connect(id, ORSet.delta({ added: ['a', 'b', 'c'] }))
    .send(command(1, id, [...ORSet.remove('c'), ...ORSet.add('d')]))
    .expect(reply(1, ORSet.state('a', 'b', 'd'), ORSet.update({ removed: ['c'], added: ['d'] })))
    .passivate(),
);
exchange('ORSet', 'verify ORSet initial empty state with replicated initial delta', (id) =>
  connect(id)
    .send(crdt.delta(ORSet.delta({ added: ['x', 'y'] })))
    .send(command(1, id, [...ORSet.remove('x'), ...ORSet.add('z')]))
    .expect(reply(1, ORSet.state('y', 'z'), ORSet.update({ removed: ['x'], added: ['z'] })))
    .passivate(),
);
exchange('ORSet', 'verify ORSet mix of local and replicated state changes', (id) =>
  connect(id)
    .send(command(1, id, ORSet.add('a')))
    .expect(reply(1, ORSet.state('a'), ORSet.update({ added: ['a'] })))
    .send(crdt.delta(ORSet.delta({ added: ['a', 'b'] })))
    .send(crdt.delta(ORSet.delta({ added: ['c', 'd'] })))
    .send(crdt.delta(ORSet.delta({ removed: ['b', 'd'] })))
    .send(command(2, id))
    .expect(reply(2, ORSet.state('a', 'c')))
    .send(command(3, id, ORSet.add('c', 'd', 'e')))
    .expectNormalized(reply(3, ORSet.state('a', 'c', 'd', 'e'), ORSet.update({ added: ['d', 'e'] })), sortReply)
    .send(crdt.delta(ORSet.delta({ removed: ['a', 'c'], added: ['f'] })))
    .send(command(4, id, [...ORSet.add('g'), ...ORSet.remove('a', 'd')]))
    .expect(reply(4, ORSet.state('e', 'f', 'g'), ORSet.update({ removed: ['d'], added: ['g'] })))
    .send(crdt.delta(ORSet.delta({ cleared: true, added: ['x', 'y', 'z'] })))
    .send(command(5, id, [...ORSet.add('q', 'x'), ...ORSet.remove('z')]))
    .expect(reply(5, ORSet.state('q', 'x', 'y'), ORSet.update({ removed: ['z'], added: ['q'] })))
    .send(crdt.delta(ORSet.delta({ removed: ['x', 'y'], added: ['r', 'p'] })))
    .send(command(6, id, ORSet.add('s')))
    .expect(reply(6, ORSet.state('p', 'q', 'r', 's'), ORSet.update({ added: ['s'] })))
    .send(crdt.delta(ORSet.delta({ added: ['a', 'b', 'c'] })))
    .send(command(7, id, [...ORSet.clear(), ...ORSet.add('abc')]))
    .expect(reply(7, ORSet.state('abc'), ORSet.update({ cleared: true, added: ['abc'] })))
    .passivate(),
);
exchange('ORSet', 'verify ORSet rehydration after passivation', async (id) => {
  await connect(id)
    .send(command(1, id, ORSet.add('a')))
    .expect(reply(1, ORSet.state('a'), ORSet.update({ added: ['a'] })))
    .send(crdt.delta(ORSet.delta({ removed: ['a'], added: ['b'] })))
    .send(command(2, id))
    .expect(reply(2, ORSet.state('b')))
    .send(command(3, id, ORSet.add('c')))
    .expect(reply(3, ORSet.state('b', 'c'), ORSet.update({ added: ['c'] })))
    .passivate();
  await connect(id, ORSet.delta({ added: ['b', 'c'] }))
    .send(command(1, id))
    .expect(reply(1, ORSet.state('b', 'c')))
    .send(crdt.delta(ORSet.delta({ cleared: true, added: ['p', 'q'] })))
    .send(command(2, id, [...ORSet.add('x', 'y'), ...ORSet.remove('x')]))
    .expect(reply(2, ORSet.state('p', 'q', 'y'), ORSet.update({ added: ['y'] })))
    .passivate();
});

// ---- LWWRegister ----

commonCases('LWWRegister', LWWRegister.state(''), { actions: LWWRegister.setTo('one'), state: LWWRegister.state('one'), update: LWWRegister.update('one') });

exchange('LWWRegister', 'verify LWWRegister state changes', (id) =>
  connect(id)
    .send(command(1, id, LWWRegister.setTo('one')))
    .expect(reply(1, LWWRegister.state('one'), LWWRegister.update('one')))
    .send(command(2, id, LWWRegister.setTo('two')))
    .expect(reply(2, LWWRegister.state('two'), LWWRegister.update('two')))
    .passivate(),
);
exchange('LWWRegister', 'verify LWWRegister initial delta in init', (id) =>
  connect(id, LWWRegister.delta('one')).send(command(1, id)).expect(reply(1, LWWRegister.state('one'))).passivate(),
);
exchange('LWWRegister', 'verify LWWRegister initial empty state with replicated initial delta', (id) =>
  connect(id).send(crdt.delta(LWWRegister.delta('one'))).send(command(1, id)).expect(reply(1, LWWRegister.state('one'))).passivate(),
);
exchange('LWWRegister', 'verify LWWRegister mix of local and replicated state changes', (id) =>
  connect(id)
    .send(command(1, id, LWWRegister.setTo('A')))
    .expect(reply(1, LWWRegister.state('A'), LWWRegister.update('A')))
    .send(crdt.delta(LWWRegister.delta('B')))
    .send(crdt.delta(LWWRegister.delta('C')))
    .send(command(2, id))
    .expect(reply(2, LWWRegister.state('C')))
    .send(command(3, id, LWWRegister.setTo('D')))
    .expect(reply(3, LWWRegister.state('D'), LWWRegister.update('D')))
    .send(crdt.delta(LWWRegister.delta('D')))
    .send(command(4, id, LWWRegister.setTo('E')))
    .expect(reply(4, LWWRegister.state('E'), LWWRegister.update('E')))
    .passivate(),
);
exchange('LWWRegister', 'verify LWWRegister state changes with clock settings', (id) =>
  connect(id)
    .send(command(1, id, LWWRegister.setTo('A', 1)))
    .expect(reply(1, LWWRegister.state('A'), LWWRegister.update('A', 1)))
    .send(command(2, id, LWWRegister.setTo('A', 2, 123)))
    .expect(reply(2, LWWRegister.state('A'), LWWRegister.update('A', 2, 123)))
    .send(command(3, id, LWWRegister.setTo('A', 3, 456)))
    .expect(reply(3, LWWRegister.state('A'), LWWRegister.update('A', 3, 456)))
    .passivate(),
);
exchange('LWWRegister', 'verify LWWRegister rehydration after passivation', async (id) => {
  await connect(id)
    .send(command(1, id, LWWRegister.setTo('A')))
    .expect(reply(1, LWWRegister.state('A'), LWWRegister.update('A')))
    .send(crdt.delta(LWWRegister.delta('B')))
    .send(command(2, id))
    .expect(reply(2, LWWRegister.state('B')))
    .send(command(3, id, LWWRegister.setTo('C')))
    .expect(reply(3, LWWRegister.state('C'), LWWRegister.update('C')))
    .passivate();
  await connect(id, LWWRegister.delta('C'))
    .send(command(1, id))
    .expect(reply(1, LWWRegister.state('C')))
    .send(crdt.delta(LWWRegister.delta('D')))
    .send(command(2, id, LWWRegister.setTo('E')))
    .expect(reply(2, LWWRegister.state('E'), LWWRegister.update('E')))
    .passivate();
});

// ---- Flag ----

commonCases('Flag', Flag.state(false), { actions: Flag.enable(), state: Flag.state(true), update: Flag.update(true) });

exchange('Flag', 'verify Flag state changes', (id) =>
  connect(id).send(command(1, id, Flag.enable())).expect(reply(1, Flag.state(true), Flag.update(true))).passivate(),
);
exchange('Flag', 'verify Flag initial delta in init', async (id) => {
  await connect(id, Flag.delta(false)).send(command(1, id)).expect(reply(1, Flag.state(false))).passivate();
  await connect(id, Flag.delta(true)).send(command(1, id)).expect(reply(1, Flag.state(true))).passivate();
});
exchange('Flag', 'verify Flag initial empty state with replicated initial delta', async (id) => {
  await connect(id).send(crdt.delta(Flag.delta(false))).send(command(1, id)).expect(reply(1, Flag.state(false))).passivate();
  await connect(id).send(crdt.delta(Flag.delta(true))).send(command(1, id)).expect(reply(1, Flag.state(true))).passivate();
});
exchange('Flag', 'verify Flag mix of local and replicated state changes', async (id) => {
  await connect(id)
    .send(crdt.delta(Flag.delta(false)))
    .send(command(1, id))
    .expect(reply(1, Flag.state(false)))
    .send(command(2, id, Flag.enable()))
    .expect(reply(2, Flag.state(true), Flag.update(true)))
    .send(crdt.delta(Flag.delta(true)))
    .send(crdt.delta(Flag.delta(false)))
    .send(command(3, id))
    .expect(reply(3, Flag.state(true)))
    .passivate();
  await connect(id)
    .send(crdt.delta(Flag.delta(true)))
    .send(command(1, id))
    .expect(reply(1, Flag.state(true)))
    .send(command(2, id, Flag.enable()))
    .expect(reply(2, Flag.state(true)))
    .send(crdt.delta(Flag.delta(true)))
    .send(crdt.delta(Flag.delta(false)))
    .send(command(3, id))
    .expect(reply(3, Flag.state(true)))
    .passivate();
});
exchange('Flag', 'verify Flag rehydration after passivation', async (id) => {
  await connect(id).send(command(1, id)).expect(reply(1, Flag.state(false))).send(command(2, id, Flag.enable())).expect(reply(2, Flag.state(true), Flag.update(true))).passivate();
  await connect(id, Flag.delta(true)).send(command(1, id)).expect(reply(1, Flag.state(true))).passivate();
});

// ---- ORMap ----

exchange('ORMap', 'verify ORMap initial empty state', (id) => connect(id).send(command(1, id)).expect(reply(1, ORMap.state())).passivate());
exchange('ORMap', 'verify ORMap delete action sent to entity', (id) => connect(id).send(crdt.delete()).passivate());
exchange('ORMap', 'verify ORMap delete action received from entity', (id) =>
  connect(id)
    .send(command(1, id, ORMap.add('Flag-1')))
    .expect(reply(1, ORMap.state(['Flag-1', Flag.state(false)]), ORMap.update({ added: [['Flag-1', Flag.update(false)]] })))
    .send(command(2, id, [...ORMap.updateWith(['Flag-1', Flag.enable()]), requestDelete()]))
    .expect(reply(2, ORMap.state(['Flag-1', Flag.state(true)]), deleteCrdt()))
    .passivate(),
);
exchange('ORMap', 'verify ORMap state changes', (id) =>
  connect(id)
    .send(command(1, id, ORMap.add('PNCounter-1', 'ORSet-1')))
    .expectNormalized(
      reply(1, ORMap.state(['ORSet-1', ORSet.state()], ['PNCounter-1', PNCounter.state(0)]), ORMap.update({ added: [['ORSet-1', ORSet.update()], ['PNCounter-1', PNCounter.update(0)]] })),
      sortReply,
    )
    .send(command(2, id, [...ORMap.add('ORSet-1'), ...ORMap.updateWith(['LWWRegister-1', LWWRegister.setTo('zero')])]))
    .expectNormalized(
      reply(
        2,
        ORMap.state(['LWWRegister-1', LWWRegister.state('zero')], ['ORSet-1', ORSet.state()], ['PNCounter-1', PNCounter.state(0)]),
        ORMap.update({ added: [['LWWRegister-1', LWWRegister.update('zero')]] }),
      ),
      sortReply,
    )
    .send(command(3, id, ORMap.updateWith(['PNCounter-1', PNCounter.changeBy(+42)], ['LWWRegister-1', LWWRegister.setTo('one')])))
    .expectNormalized(
      reply(
        3,
        ORMap.state(['LWWRegister-1', LWWRegister.state('one')], ['ORSet-1', ORSet.state()], ['PNCounter-1', PNCounter.state(+42)]),
        ORMap.update({ updated: [['LWWRegister-1', LWWRegister.update('one')], ['PNCounter-1', PNCounter.update(+42)]] }),
      ),
      sortReply,
    )
    .send(command(4, id, ORMap.updateWith(['ORSet-1', ORSet.add('a', 'b', 'c')])))
    .expectNormalized(
      reply(
        4,
        ORMap.state(['LWWRegister-1', LWWRegister.state('one')], ['ORSet-1', ORSet.state('a', 'b', 'c')], ['PNCounter-1', PNCounter.state(+42)]),
        ORMap.update({ updated: [['ORSet-1', ORSet.update({ added: ['a', 'b', 'c'] })]] }),
      ),
      sortReply,
    )
    .send(
      command(
        5,
        id,
        ORMap.updateWith(['ORSet-1', [...ORSet.remove('b'), ...ORSet.add('d')]], ['PNCounter-1', PNCounter.changeBy(-123)], ['LWWRegister-1', LWWRegister.setTo('two')]),
      ),
    )
    .expectNormalized(
      reply(
        5,
        ORMap.state(['LWWRegister-1', LWWRegister.state('two')], ['ORSet-1', ORSet.state('a', 'c', 'd')], ['PNCounter-1', PNCounter.state(-81)]),
        ORMap.update({
          updated: [
            ['LWWRegister-1', LWWRegister.update('two')],
            ['ORSet-1', ORSet.update({ removed: ['b'], added: ['d'] })],
            ['PNCounter-1', PNCounter.update(-123)],
          ],
        }),
      ),
      sortReply,
    )
    .send(command(6, id, ORMap.remove('ORSet-1')))
    .expectNormalized(
      reply(6, ORMap.state(['LWWRegister-1', LWWRegister.state('two')], ['PNCounter-1', PNCounter.state(-81)]), ORMap.update({ removed: ['ORSet-1'] })),
      sortReply,
    )
    .send(command(7, id, [...ORMap.remove('LWWRegister-1'), ...ORMap.updateWith(['Flag-1', Flag.enable()])]))
    .expectNormalized(
      reply(7, ORMap.state(['Flag-1', Flag.state(true)], ['PNCounter-1', PNCounter.state(-81)]), ORMap.update({ removed: ['LWWRegister-1'], added: [['Flag-1', Flag.update(true)]] })),
      sortReply,
    )
    .send(command(8, id, ORMap.clear()))
    .expect(reply(8, ORMap.state(), ORMap.update({ cleared: true })))
    .send(command(9, id, [...ORMap.add('PNCounter-2'), ...ORMap.clear(), ...ORMap.updateWith(['GCounter-1', GCounter.incrementBy(123)])]))
    .expectNormalized(
      reply(9, ORMap.state(['GCounter-1', GCounter.state(123)]), ORMap.update({ cleared: true, added: [['GCounter-1', GCounter.update(123)]] })),
      sortReply,
    )
    .passivate(),
);
exchange('ORMap', 'verify ORMap initial delta in init', (id) =>
  connect(id, ORMap.delta({ added: [['PNCounter-1', PNCounter.delta(+123)], ['LWWRegister-1', LWWRegister.delta('one')], ['GSet-1', GSet.delta('a', 'b', 'c')]] }))
    .send(command(1, id))
    .expect(reply(1, ORMap.state(['GSet-1', GSet.state('a', 'b', 'c')], ['LWWRegister-1', LWWRegister.state('one')], ['PNCounter-1', PNCounter.state(+123)])))
    .send(command(2, id, [...ORMap.remove('LWWRegister-1'), ...ORMap.updateWith(['PNCounter-1', PNCounter.changeBy(-42)])]))
    .expectNormalized(
      reply(
        2,
        ORMap.state(['GSet-1', GSet.state('a', 'b', 'c')], ['PNCounter-1', PNCounter.state(+81)]),
        ORMap.update({ removed: ['LWWRegister-1'], updated: [['PNCounter-1', PNCounter.update(-42)]] }),
      ),
      sortReply,
    )
    .passivate(),
);
exchange('ORMap', 'verify ORMap initial empty state with replicated initial delta', (id) =>
  connect(id)
    .send(crdt.delta(ORMap.delta({ added: [['GCounter-1', GCounter.delta(42)], ['ORSet-1', ORSet.delta({ added: ['a', 'b', 'c'] })], ['Flag-1', Flag.delta(false)]] })))
    .send(command(1, id))
    .expect(reply(1, ORMap.state(['Flag-1', Flag.state(false)], ['GCounter-1', GCounter.state(42)], ['ORSet-1', ORSet.state('a', 'b', 'c')])))
    .passivate(),
);
exchange('ORMap', 'verify ORMap mix of local and replicated state changes', (id) =>
  connect(id)
    .send(command(1, id, ORMap.add('PNCounter-1')))
    .expect(reply(1, ORMap.state(['PNCounter-1', PNCounter.state(0)]), ORMap.update({ added: [['PNCounter-1', PNCounter.update(0)]] })))
    .send(crdt.delta(ORMap.delta({ added: [['ORSet-1', ORSet.delta({ added: ['x'] })]] })))
    .send(crdt.delta(ORMap.delta({ added: [['LWWRegister-1', LWWRegister.delta('one')]], updated: [['ORSet-1', ORSet.delta({ added: ['y', 'z'] })]] })))
    .send(command(2, id, [...ORMap.add('ORSet-2'), ...ORMap.updateWith(['LWWRegister-2', LWWRegister.setTo('two')])]))
    .expectNormalized(
      reply(
        2,
        ORMap.state(
          ['LWWRegister-1', LWWRegister.state('one')],
          ['LWWRegister-2', LWWRegister.state('two')],
          ['ORSet-1', ORSet.state('x', 'y', 'z')],
          ['ORSet-2', ORSet.state()],
          ['PNCounter-1', PNCounter.state(0)],
        ),
        ORMap.update({ added: [['LWWRegister-2', LWWRegister.update('two')], ['ORSet-2', ORSet.update()]] }),
      ),
      sortReply,
    )
    .send(command(3, id, ORMap.updateWith(['PNCounter-1', PNCounter.changeBy(+42)], ['LWWRegister-1', LWWRegister.setTo('ONE')])))
    .expectNormalized(
      reply(
        3,
        ORMap.state(
          ['LWWRegister-1', LWWRegister.state('ONE')],
          ['LWWRegister-2', LWWRegister.state('two')],
          ['ORSet-1', ORSet.state('x', 'y', 'z')],
          ['ORSet-2', ORSet.state()],
          ['PNCounter-1', PNCounter.state(+42)],
        ),
        ORMap.update({ updated: [['LWWRegister-1', LWWRegister.update('ONE')], ['PNCounter-1', PNCounter.update(+42)]] }),
      ),
      sortReply,
    )
    .send(crdt.delta(ORMap.delta({ removed: ['LWWRegister-2'], added: [['ORMap-1', ORMap.delta({ added: [['PNCounter-1', PNCounter.delta(+123)]] })]] })))
    .send(
      crdt.delta(
        ORMap.delta({
          removed: ['ORSet-1'],
          updated: [['ORSet-2', ORSet.delta({ added: ['a', 'b', 'c'] })], ['ORMap-1', ORMap.delta({ added: [['LWWRegister-1', LWWRegister.delta('ABC')]] })]],
        }),
      ),
    )
    .send(command(4, id, ORMap.updateWith(['ORMap-1', ORMap.updateWith(['PNCounter-1', PNCounter.changeBy(-456)])])))
    .expectNormalized(
      reply(
        4,
        ORMap.state(
          ['LWWRegister-1', LWWRegister.state('ONE')],
          ['ORMap-1', ORMap.state(['LWWRegister-1', LWWRegister.state('ABC')], ['PNCounter-1', PNCounter.state(-333)])],
          ['ORSet-2', ORSet.state('a', 'b', 'c')],
          ['PNCounter-1', PNCounter.state(+42)],
        ),
        ORMap.update({ updated: [['ORMap-1', ORMap.update({ updated: [['PNCounter-1', PNCounter.update(-456)]] })]] }),
      ),
      sortReply,
    )
    .send(crdt.delta(ORMap.delta({ cleared: true, added: [['GSet-1', GSet.delta('1', '2', '3')]] })))
    .send(command(5, id, [...ORMap.remove('PNCounter-1', 'LWWRegister-1'), ...ORMap.updateWith(['GSet-1', GSet.add('2', '4', '6')])]))
    .expectNormalized(reply(5, ORMap.state(['GSet-1', GSet.state('1', '2', '3', '4', '6')]), ORMap.update({ updated: [['GSet-1', GSet.update('4', '6')]] })), sortReply)
    .send(command(6, id, [...ORMap.clear(), ...ORMap.add('GCounter-1')]))
    .expect(reply(6, ORMap.state(['GCounter-1', GCounter.state(0)]), ORMap.update({ cleared: true, added: [['GCounter-1', GCounter.update(0)]] })))
    .send(crdt.delta(ORMap.delta({ removed: ['GSet-1'], added: [['GCounter-1', GCounter.delta(42)]] })))
    .send(command(7, id, ORMap.updateWith(['GCounter-1', GCounter.incrementBy(7)])))
    .expect(reply(7, ORMap.state(['GCounter-1', GCounter.state(49)]), ORMap.update({ updated: [['GCounter-1', GCounter.update(7)]] })))
    .passivate(),
);
exchange('ORMap', 'verify ORMap rehydration after passivation', async (id) => {
  await connect(id)
    .send(crdt.delta(ORMap.delta({ added: [['PNCounter-1', PNCounter.delta(+123)]] })))
    .send(command(1, id, ORMap.updateWith(['PNCounter-1', PNCounter.changeBy(+321)])))
    .expect(reply(1, ORMap.state(['PNCounter-1', PNCounter.state(+444)]), ORMap.update({ updated: [['PNCounter-1', PNCounter.update(+321)]] })))
    .passivate();
  await connect(id, ORMap.delta({ added: [['PNCounter-1', PNCounter.delta(+444)]] }))
    .send(command(1, id))
    .expect(reply(1, ORMap.state(['PNCounter-1', PNCounter.state(+444)])))
    .send(crdt.delta(ORMap.delta({ updated: [['PNCounter-1', PNCounter.delta(-42)]] })))
    .send(command(2, id, ORMap.updateWith(['PNCounter-1', PNCounter.changeBy(-360)])))
    .expect(reply(2, ORMap.state(['PNCounter-1', PNCounter.state(+42)]), ORMap.update({ updated: [['PNCounter-1', PNCounter.update(-360)]] })))
    .passivate();
});

// ---- Vote ----

commonCases('Vote', Vote.state(false, 0, 1), { actions: Vote.self(true), state: Vote.state(true, 1, 1), update: Vote.update(true) });

exchange('Vote', 'verify Vote state changes', (id) =>
  connect(id)
    .send(command(1, id, Vote.self(true)))
    .expect(reply(1, Vote.state(true, 1, 1), Vote.update(true)))
    .send(command(2, id, Vote.self(true)))
    .expect(reply(2, Vote.state(true, 1, 1)))
    .send(command(3, id, Vote.self(false)))
    .expect(reply(3, Vote.state(false, 0, 1), Vote.update(false)))
    .send(command(4, id, Vote.self(false)))
    .expect(reply(4, Vote.state(false, 0, 1)))
    .passivate(),
);
exchange('Vote', 'verify Vote initial delta in init', (id) =>
  connect(id, Vote.delta(true, 2, 3))
    .send(command(1, id))
    .expect(reply(1, Vote.state(true, 2, 3)))
    .send(command(2, id, Vote.self(false)))
    .expect(reply(2, Vote.state(false, 1, 3), Vote.update(false)))
    .passivate(),
);
exchange('Vote', 'verify Vote initial empty state with replicated initial delta', (id) =>
  connect(id)
    .send(crdt.delta(Vote.delta(false, 3, 5)))
    .send(command(1, id))
    .expect(reply(1, Vote.state(false, 3, 5)))
    .send(command(2, id, Vote.self(true)))
    .expect(reply(2, Vote.state(true, 4, 5), Vote.update(true)))
    .passivate(),
);
exchange('Vote', 'verify Vote mix of local and replicated state changes', (id) =>
  connect(id)
    .send(crdt.delta(Vote.delta(false, 2, 4)))
    .send(command(1, id))
    .expect(reply(1, Vote.state(false, 2, 4)))
    .send(command(2, id, Vote.self(true)))
    .expect(reply(2, Vote.state(true, 3, 4), Vote.update(true)))
    .send(crdt.delta(Vote.delta(true, 5, 7)))
    .send(crdt.delta(Vote.delta(true, 4, 6)))
    .send(command(3, id, Vote.self(false)))
    .expect(reply(3, Vote.state(false, 3, 6), Vote.update(false)))
    .passivate(),
);
exchange('Vote', 'verify Vote rehydration after passivation', async (id) => {
  await connect(id)
    .send(command(1, id))
    .expect(reply(1, Vote.state(false, 0, 1)))
    .send(crdt.delta(Vote.delta(false, 2, 5)))
    .send(command(2, id, Vote.self(true)))
    .expect(reply(2, Vote.state(true, 3, 5), Vote.update(true)))
    .passivate();
  await connect(id, Vote.delta(true, 3, 5))
    .send(command(1, id))
    .expect(reply(1, Vote.state(true, 3, 5)))
    .send(command(2, id, Vote.self(false)))
    .expect(reply(2, Vote.state(false, 2, 5), Vote.update(false)))
    .passivate();
});

// ---- forwards and side effects ----

const forwarded = (id: number, entityId: string, effects: CrdtEffects = {}) => crdt.forward(id, M.serviceTwo, 'Call', request(entityId), effects);

exchange('GCounter', 'verify forward to second service', (id) =>
  connect(id).send(command(1, id, [M.forwardTo(`X-${id}`)])).expect(forwarded(1, `X-${id}`)).passivate(),
);
exchange('PNCounter', 'verify forward with state changes', (id) =>
  connect(id).send(command(1, id, [...PNCounter.changeBy(-42), M.forwardTo(`X-${id}`)])).expect(forwarded(1, `X-${id}`, PNCounter.update(-42))).passivate(),
);
exchange('GSet', 'verify reply with side effect to second service', (id) =>
  connect(id).send(command(1, id, [M.sideEffectTo(`X-${id}`)])).expect(reply(1, GSet.state(), M.sideEffects(`X-${id}`))).passivate(),
);
exchange('ORSet', 'verify synchronous side effect to second service', (id) =>
  connect(id).send(command(1, id, [M.sideEffectTo(`X-${id}`, true)])).expect(reply(1, ORSet.state(), M.synchronousSideEffects(`X-${id}`))).passivate(),
);
exchange('LWWRegister', 'verify forward and side effect to second service', (id) =>
  connect(id)
    .send(command(1, id, [M.sideEffectTo(`B-${id}`), M.forwardTo(`A-${id}`)]))
    .expect(forwarded(1, `A-${id}`, fx(LWWRegister.update(''), M.sideEffects(`B-${id}`))))
    .passivate(),
);
exchange('Flag', 'verify reply with multiple side effects', (id) =>
  connect(id).send(command(1, id, M.sideEffectsTo('1', '2', '3'))).expect(reply(1, Flag.state(false), M.sideEffects('1', '2', '3'))).passivate(),
);
exchange('ORMap', 'verify reply with multiple side effects and state changes', (id) =>
  connect(id)
    .send(command(1, id, [...ORMap.add('PNCounter-1'), ...ORMap.updateWith(['GSet-1', GSet.add('a', 'b', 'c')]), ...M.sideEffectsTo('1', '2', '3')]))
    .expectNormalized(
      reply(
        1,
        ORMap.state(['GSet-1', GSet.state('a', 'b', 'c')], ['PNCounter-1', PNCounter.state(0)]),
        fx(ORMap.update({ added: [['GSet-1', GSet.update('a', 'b', 'c')], ['PNCounter-1', PNCounter.update(0)]] }), M.sideEffects('1', '2', '3')),
      ),
      sortReply,
    )
    .passivate(),
);

// ---- failures ----

exchange('GCounter', 'verify failure action', (id) =>
  connect(id).send(command(1, id, [M.failWith('expected failure')])).expect(crdt.failure(1, 'expected failure')).passivate(),
);
exchange('PNCounter', 'verify connection after failure action', (id) =>
  connect(id)
    .send(command(1, id, PNCounter.changeBy(+42)))
    .expect(reply(1, PNCounter.state(+42), PNCounter.update(+42)))
    .send(command(2, id, [M.failWith('expected failure')]))
    .expect(crdt.failure(2, 'expected failure'))
    .send(command(3, id))
    .expect(reply(3, PNCounter.state(+42)))
    .passivate(),
);
exchange('PNCounter', 'a failure after state changes keeps none of them (rolled back, no state action)', (id) =>
  connect(id)
    .send(command(1, id, PNCounter.changeBy(+42)))
    .expect(reply(1, PNCounter.state(+42), PNCounter.update(+42)))
    .send(command(2, id, [...PNCounter.changeBy(+1), M.sideEffectTo('x'), M.failWith('expected failure')]))
    .expect(crdt.failure(2, 'expected failure'))
    .send(command(3, id, PNCounter.changeBy(+1)))
    .expect(reply(3, PNCounter.state(+43), PNCounter.update(+1)))
    .passivate(),
);

// ---- streamed responses ----

exchange('GCounter', 'verify streamed responses', (id) =>
  connect(id)
    .send(streamed(1, id))
    .expect(reply(1, GCounter.state(0), crdt.streamedFx()))
    .send(command(2, id, GCounter.incrementBy(1)))
    .expect(reply(2, GCounter.state(1), GCounter.update(1)))
    .expect(crdt.streamed(1, M.response(GCounter.state(1))))
    .send(command(3, id, GCounter.incrementBy(2)))
    .expect(reply(3, GCounter.state(3), GCounter.update(2)))
    .expect(crdt.streamed(1, M.response(GCounter.state(3))))
    .send(command(4, id, GCounter.incrementBy(3)))
    .expect(reply(4, GCounter.state(6), GCounter.update(3)))
    .expect(crdt.streamed(1, M.response(GCounter.state(6))))
    .passivate(),
);
exchange('GCounter', 'verify streamed responses with stream ending action', (id) =>
  connect(id)
    .send(streamed(1, id, { end_state: GCounter.state(3).state }))
    .expect(reply(1, GCounter.state(0), crdt.streamedFx()))
    .send(command(2, id, GCounter.incrementBy(1)))
    .expect(reply(2, GCounter.state(1), GCounter.update(1)))
    .expect(crdt.streamed(1, M.response(GCounter.state(1))))
    .send(command(3, id, GCounter.incrementBy(2)))
    .expect(reply(3, GCounter.state(3), GCounter.update(2)))
    .expect(crdt.streamed(1, M.response(GCounter.state(3)), crdt.endStream()))
    .send(command(4, id, GCounter.incrementBy(3)))
    .expect(reply(4, GCounter.state(6), GCounter.update(3)))
    .passivate(),
);
exchange('PNCounter', 'verify streamed responses with cancellation', (id) =>
  connect(id)
    .send(streamed(1, id, { cancel_update: PNCounter.updateWith(-42) }))
    .expect(reply(1, PNCounter.state(0), crdt.streamedFx()))
    .send(command(2, id, PNCounter.changeBy(+10)))
    .expect(reply(2, PNCounter.state(+10), PNCounter.update(+10)))
    .expect(crdt.streamed(1, M.response(PNCounter.state(+10))))
    .send(command(3, id, PNCounter.changeBy(+20)))
    .expect(reply(3, PNCounter.state(+30), PNCounter.update(+20)))
    .expect(crdt.streamed(1, M.response(PNCounter.state(+30))))
    .send(crdt.streamCancelled(1, id))
    .expect(crdt.streamCancelledResponse(1, PNCounter.update(-42)))
    .send(command(4, id))
    .expect(reply(4, PNCounter.state(-12)))
    .send(command(5, id, PNCounter.changeBy(+30)))
    .expect(reply(5, PNCounter.state(+18), PNCounter.update(+30)))
    .passivate(),
);
exchange('PNCounter', 'verify empty streamed responses with cancellation', (id) =>
  connect(id)
    .send(command(1, id, PNCounter.changeBy(+10)))
    .expect(reply(1, PNCounter.state(+10), PNCounter.update(+10)))
    .send(streamed(2, id, { cancel_update: PNCounter.updateWith(-42), empty: true }))
    .expect(crdt.noReply(2, crdt.streamedFx()))
    .send(crdt.streamCancelled(2, id))
    .expect(crdt.streamCancelledResponse(2, PNCounter.update(-42)))
    .send(command(3, id))
    .expect(reply(3, PNCounter.state(-32)))
    .passivate(),
);
exchange('GSet', 'verify streamed responses with side effects', (id) =>
  connect(id)
    .send(streamed(1, id, { effects: [{ id: 'one' }, { id: 'two', synchronous: true }] }))
    .expect(reply(1, GSet.state(), crdt.streamedFx()))
    .send(command(2, id, GSet.add('a')))
    .expect(reply(2, GSet.state('a'), GSet.update('a')))
    .expect(crdt.streamed(1, M.response(GSet.state('a')), fx(M.sideEffects('one'), M.synchronousSideEffects('two'))))
    .send(command(3, id, GSet.add('b')))
    .expect(reply(3, GSet.state('a', 'b'), GSet.update('b')))
    .expect(crdt.streamed(1, M.response(GSet.state('a', 'b')), fx(M.sideEffects('one'), M.synchronousSideEffects('two'))))
    .passivate(),
);
exchange('Vote', 'streamed responses follow replicated deltas and other calls\' cancellations', (id) =>
  connect(id)
    .send(streamed(1, id))
    .expect(reply(1, Vote.state(false, 0, 1), crdt.streamedFx()))
    .send(streamed(2, id, { initial_update: Vote.updateWith(true), cancel_update: Vote.updateWith(false), empty: true }))
    .expect(crdt.noReply(2, fx(crdt.streamedFx(), Vote.update(true))))
    .expect(crdt.streamed(1, M.response(Vote.state(true, 1, 1))))
    .send(crdt.delta(Vote.delta(true, 2, 3)))
    .expect(crdt.streamed(1, M.response(Vote.state(true, 2, 3))))
    .send(crdt.streamCancelled(2, id))
    .expect(crdt.streamCancelledResponse(2, Vote.update(false)))
    .expect(crdt.streamed(1, M.response(Vote.state(false, 1, 3))))
    .send(crdt.streamCancelled(1, id))
    .expect(crdt.streamCancelledResponse(1))
    .send(command(3, id, [requestDelete()]))
    .expect(reply(3, Vote.state(false, 1, 3), deleteCrdt()))
    .passivate(),
);

// ---- write consistency ----

exchange('GCounter', 'verify write consistency can be configured', (id) =>
  connect(id)
    .send(command(1, id, [M.requestUpdate(GCounter.updateWith(1, 0))]))
    .expect(reply(1, GCounter.state(1), crdt.update(GCounter.delta(1), 'local')))
    .send(command(2, id, [M.requestUpdate(GCounter.updateWith(2, 1))]))
    .expect(reply(2, GCounter.state(3), crdt.update(GCounter.delta(2), 'majority')))
    .send(command(3, id, [M.requestUpdate(GCounter.updateWith(3, 2))]))
    .expect(reply(3, GCounter.state(6), crdt.update(GCounter.delta(3), 'all')))
    .passivate(),
);
