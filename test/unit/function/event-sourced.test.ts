import { join } from 'node:path';
import t, { type Test } from 'tap';
import { EventSourcedEntity } from '../../../src/function/index.js';
import { anyOf, decodeAny, openHandle, protocolClient, startServer, type Plain } from './protocol-client.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const SERVICE = 'fixture.model.Counter';

interface State {
  value: string;
}

function counter(): EventSourcedEntity<State> {
  const entity: EventSourcedEntity<State> = new EventSourcedEntity<State>({
    serviceName: SERVICE,
    protoFiles: 'model.proto',
    includeDirs: [fixtures],
    persistenceId: 'counter',
    snapshotEvery: 3,
    stateType: 'fixture.model.Snapshot',
    initialState: () => ({ value: '' }),
    commandHandlers: {
      Process(request, _state, ctx) {
        for (const value of request.emit as string[]) ctx.emit(entity.message('fixture.model.Persisted', { value }));
        for (const id of request.effects as string[]) ctx.effect('fixture.model.Two', 'Call', { id }, request.syncEffects);
        if (request.fail) ctx.fail(request.fail);
        if (request.crash) throw new Error('boom');
        if (request.forwardTo) return ctx.forward('fixture.model.Two', 'Call', { id: request.forwardTo });
        return { state: ctx.state.value, count: ctx.commandId };
      },
      Quiet(request, _state, ctx) {
        // JSON events: packed as json.cloudstate.io/<type>, handled by their type name.
        for (const value of request.emit as string[]) ctx.emit({ type: 'JsonPersisted', value });
      },
    },
    eventHandlers: {
      Persisted: (event, state) => ({ value: state.value + event.value }),
      JsonPersisted: (event, state) => ({ value: `${state.value}${event.value as string}` }),
    },
  });
  return entity;
}

async function setup(t: Test) {
  const entity = counter();
  const { port } = await startServer(t, [entity]);
  const client = protocolClient('cloudstate.eventsourced.EventSourced', port);
  t.teardown(() => client.close());
  let nextId = 1;
  const command = (fields: Plain, name = 'Process') => ({
    command: { entity_id: 'e1', id: nextId++, name, payload: anyOf(entity.root, 'fixture.model.Request', { id: 'e1', ...fields }) },
  });
  return { entity, client, command };
}

t.test('init from a snapshot, replayed events, then commands whose replies see their events', async (t) => {
  const { entity, client, command } = await setup(t);
  const { call, inbox } = openHandle(client);
  t.teardown(() => call.end());
  call.write({
    init: {
      service_name: SERVICE,
      entity_id: 'e1',
      snapshot: { snapshot_sequence: 4, snapshot: anyOf(entity.root, 'fixture.model.Snapshot', { value: 'AB' }) },
    },
  });
  call.write({ event: { sequence: 5, payload: anyOf(entity.root, 'fixture.model.Persisted', { value: 'C' }) } });
  call.write({ event: { sequence: 6, payload: anyOf(entity.root, 'fixture.model.Persisted', { value: 'D' }) } });
  call.write(command({ emit: ['E'] }));
  const first = (await inbox.next())!.reply;
  t.equal(first.command_id, 1);
  t.same(decodeAny(entity.root, first.client_action.reply.payload), { state: 'ABCDE', count: 1 });
  t.equal(first.client_action.reply.payload.type_url, 'type.googleapis.com/fixture.model.Response');
  t.same(first.events.map((e: Plain) => decodeAny(entity.root, e)), [{ value: 'E' }]);
  t.notOk(first.snapshot, 'sequence 7: no snapshot');

  call.write(command({ emit: ['F', 'G', 'H'] }));
  const second = (await inbox.next())!.reply;
  t.same(decodeAny(entity.root, second.client_action.reply.payload), { state: 'ABCDEFGH', count: 2 });
  t.equal(second.events.length, 3);
  t.equal(second.snapshot.type_url, 'type.googleapis.com/fixture.model.Snapshot');
  t.same(decodeAny(entity.root, second.snapshot), { value: 'ABCDEFGH' }, 'crossed 9: snapshot of the state after all events');

  call.write(command({}, 'Quiet'));
  const quiet = (await inbox.next())!.reply;
  t.equal(quiet.command_id, 3);
  t.notOk(quiet.client_action, 'no reply: client_action unset');
  t.notOk(quiet.events?.length);

  call.write(command({ emit: ['J'] }, 'Quiet'));
  const json = (await inbox.next())!.reply;
  t.equal(json.events[0].type_url, 'json.cloudstate.io/JsonPersisted');
  call.write(command({ emit: [] }));
  t.equal(decodeAny(entity.root, (await inbox.next())!.reply.client_action.reply.payload).state, 'ABCDEFGHJ', 'the JSON event was applied');
});

t.test('a new entity starts from the initial state; snapshot on the N-th event', async (t) => {
  const { entity, client, command } = await setup(t);
  const { call, inbox } = openHandle(client);
  t.teardown(() => call.end());
  call.write({ init: { service_name: SERVICE, entity_id: 'e1' } });
  call.write(command({ emit: ['a', 'b'] }));
  const one = (await inbox.next())!.reply;
  t.same(decodeAny(entity.root, one.client_action.reply.payload).state, 'ab');
  t.notOk(one.snapshot);
  call.write(command({ emit: ['c'] }));
  const two = (await inbox.next())!.reply;
  t.same(decodeAny(entity.root, two.snapshot), { value: 'abc' });
});

/** An entity stream that has handled one command, which emitted the event `a`. */
async function afterOneEvent(t: Test) {
  const { entity, client, command } = await setup(t);
  const { call, inbox } = openHandle(client);
  t.teardown(() => call.end());
  call.write({ init: { service_name: SERVICE, entity_id: 'e1' } });
  call.write(command({ emit: ['a'] }));
  await inbox.next();
  return { entity, call, inbox, command };
}

t.test('ctx.fail before emitting: a failure reply with the command id, no restart, state kept', async (t) => {
  const { entity, call, inbox, command } = await afterOneEvent(t);
  call.write(command({ effects: ['side'], fail: 'not today' }));
  const failed = (await inbox.next())!.reply;
  t.equal(failed.command_id, 2);
  t.same(failed.client_action, { failure: { command_id: 2, description: 'not today' } }, 'no restart asked for');
  t.notOk(failed.side_effects?.length, 'side effects dropped');
  call.write(command({ emit: ['b', 'c'] }));
  const after = (await inbox.next())!.reply;
  t.equal(decodeAny(entity.root, after.client_action.reply.payload).state, 'abc', 'state and sequence kept');
  t.same(decodeAny(entity.root, after.snapshot), { value: 'abc' }, 'sequence 3: the failed command counted nothing');
});

t.test('ctx.fail after emitting: the failure asks for a restart; events, side effects and snapshot dropped', async (t) => {
  const { entity, call, inbox, command } = await afterOneEvent(t);
  // Four more events would cross the snapshot every 3: the failure must not carry that snapshot.
  call.write(command({ emit: ['x', 'y', 'z', 'w'], effects: ['side'], fail: 'not today' }));
  const failed = (await inbox.next())!.reply;
  t.equal(failed.command_id, 2);
  t.same(failed.client_action, { failure: { command_id: 2, description: 'not today', restart: true } });
  t.notOk(failed.events?.length, 'events dropped');
  t.notOk(failed.side_effects?.length, 'side effects dropped');
  t.notOk(failed.snapshot, 'no snapshot');
  // A proxy that ignored the restart would go on with the state from before the command (this
  // fixture's handlers return new states, so that state is intact).
  call.write(command({ emit: ['b', 'c'] }));
  const after = (await inbox.next())!.reply;
  t.equal(decodeAny(entity.root, after.client_action.reply.payload).state, 'abc', 'state and sequence restored');
  t.same(decodeAny(entity.root, after.snapshot), { value: 'abc' });
});

t.test('forward and side effects are encoded as the target method input type', async (t) => {
  const { entity, client, command } = await setup(t);
  const { call, inbox } = openHandle(client);
  t.teardown(() => call.end());
  call.write({ init: { service_name: SERVICE, entity_id: 'e1' } });
  call.write(command({ emit: ['a'], forwardTo: 'other', effects: ['s1', 's2'], syncEffects: true }));
  const reply = (await inbox.next())!.reply;
  const forward = reply.client_action.forward;
  t.equal(forward.service_name, 'fixture.model.Two');
  t.equal(forward.command_name, 'Call');
  t.equal(forward.payload.type_url, 'type.googleapis.com/fixture.model.Other');
  t.same(decodeAny(entity.root, forward.payload), { id: 'other' });
  t.same(
    reply.side_effects.map((e: Plain) => [e.service_name, e.command_name, decodeAny(entity.root, e.payload).id, e.synchronous]),
    [['fixture.model.Two', 'Call', 's1', true], ['fixture.model.Two', 'Call', 's2', true]],
  );
  t.equal(reply.events.length, 1, 'a forward keeps its events');
});

t.test('a handler crash: stream failure with the command id, then the stream ends', async (t) => {
  const { client, command } = await setup(t);
  const { call, inbox } = openHandle(client);
  call.write({ init: { service_name: SERVICE, entity_id: 'e1' } });
  call.write(command({ emit: ['a'], crash: true }));
  const out = (await inbox.next())!;
  t.notOk(out.reply);
  t.equal(out.failure.command_id, 1);
  t.match(out.failure.description, /boom/);
  t.same(await inbox.ended(), [], 'stream ended by the function');
  call.end();
});

t.test('protocol violations end the stream with a failure', async (t) => {
  const { client, command } = await setup(t);
  const unknown = openHandle(client);
  unknown.call.write({ init: { service_name: 'no.Such', entity_id: 'e1' } });
  t.match((await unknown.inbox.next())!.failure.description, /no\.Such/);
  t.same(await unknown.inbox.ended(), []);
  unknown.call.end();

  const noInit = openHandle(client);
  noInit.call.write(command({}));
  t.match((await noInit.inbox.next())!.failure.description, /before init/);
  noInit.call.end();
});

t.test('the proxy half-closing ends the stream', async (t) => {
  const { client } = await setup(t);
  const { call, inbox } = openHandle(client);
  call.write({ init: { service_name: SERVICE, entity_id: 'e1' } });
  call.end();
  t.same(await inbox.ended(), []);
  t.notOk(inbox.error);
});
