import { join } from 'node:path';
import t, { type Test } from 'tap';
import { packPrimitive, unpackPrimitive, ValueEntity } from '../../../src/function/index.js';
import { anyOf, decodeAny, openHandle, protocolClient, startServer, type Plain } from './protocol-client.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const SERVICE = 'fixture.model.Values';

/** State: a string, stored as a `p.cloudstate.io/string` primitive. */
function values(): ValueEntity<string> {
  return new ValueEntity<string>({
    serviceName: SERVICE,
    protoFiles: ['model.proto'],
    includeDirs: [fixtures],
    persistenceId: 'values',
    passivationTimeoutMs: 100,
    initialState: () => '',
    commandHandlers: {
      Process(request, state, ctx) {
        for (const update of request.updates as string[]) ctx.updateState(ctx.state + update);
        if (request.delete) ctx.deleteState();
        if (request.fail) ctx.fail(request.fail);
        if (request.crash) throw new Error('value boom');
        return { state: `${state}->${ctx.state ?? '(deleted)'}` };
      },
    },
  });
}

async function setup(t: Test) {
  const entity = values();
  const { port } = await startServer(t, [entity]);
  const client = protocolClient('cloudstate.valueentity.ValueEntity', port);
  t.teardown(() => client.close());
  let nextId = 1;
  const command = (fields: Plain) => ({
    command: { entity_id: 'v1', id: nextId++, name: 'Process', payload: anyOf(entity.root, 'fixture.model.ValueRequest', { id: 'v1', ...fields }) },
  });
  return { entity, client, command };
}

const stateOf = (reply: Plain) => unpackPrimitive('string', reply.state_action.update.value.value);

t.test('init with a stored state; updates (last wins), delete, reply sees the new state', async (t) => {
  const { entity, client, command } = await setup(t);
  const { call, inbox } = openHandle(client);
  t.teardown(() => call.end());
  call.write({ init: { service_name: SERVICE, entity_id: 'v1', state: { value: packPrimitive('stored') } } });

  call.write(command({ updates: ['A', 'B'] }));
  const one = (await inbox.next())!.reply;
  t.equal(one.command_id, 1);
  t.equal(decodeAny(entity.root, one.client_action.reply.payload).state, 'stored->storedAB');
  t.equal(one.state_action.update.value.type_url, 'p.cloudstate.io/string');
  t.equal(stateOf(one), 'storedAB', 'one state action: the last update');

  call.write(command({ updates: ['C'], delete: true }));
  const two = (await inbox.next())!.reply;
  t.same(two.state_action, { delete: {} }, 'delete after update wins');
  t.equal(decodeAny(entity.root, two.client_action.reply.payload).state, 'storedAB->(deleted)');

  call.write(command({ delete: true, updates: [] }));
  await inbox.next();
  call.write(command({ updates: ['Z'] }));
  const four = (await inbox.next())!.reply;
  t.equal(stateOf(four), 'Z', 'after a delete the entity starts from the initial state');

  call.write(command({}));
  const five = (await inbox.next())!.reply;
  t.notOk(five.state_action, 'no change: no state action');
});

t.test('init without state (empty ValueEntityInitState) starts from the initial state', async (t) => {
  const { entity, client, command } = await setup(t);
  const { call, inbox } = openHandle(client);
  t.teardown(() => call.end());
  call.write({ init: { service_name: SERVICE, entity_id: 'v1', state: {} } });
  call.write(command({ updates: ['x'] }));
  const reply = (await inbox.next())!.reply;
  t.equal(decodeAny(entity.root, reply.client_action.reply.payload).state, '->x');
});

t.test('ctx.fail: failure reply, no state action, state unchanged; a crash ends the stream', async (t) => {
  const { entity, client, command } = await setup(t);
  const { call, inbox } = openHandle(client);
  call.write({ init: { service_name: SERVICE, entity_id: 'v1' } });
  call.write(command({ updates: ['A'] }));
  await inbox.next();
  call.write(command({ updates: ['B'], fail: 'no B' }));
  const failed = (await inbox.next())!.reply;
  t.same(failed.client_action, { failure: { command_id: 2, description: 'no B' } });
  t.notOk(failed.state_action);
  call.write(command({}));
  t.equal(decodeAny(entity.root, (await inbox.next())!.reply.client_action.reply.payload).state, 'A->A');
  call.write(command({ crash: true }));
  const crash = (await inbox.next())!;
  t.equal(crash.failure.command_id, 4);
  t.match(crash.failure.description, /value boom/);
  t.same(await inbox.ended(), []);
  call.end();
});
