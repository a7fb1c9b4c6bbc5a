// TCK proxy tests, value entities (reference: EntityTCK "verifyEntityProxy"): a gRPC/HTTP client
// calls the proxy; the interceptor checks, exactly, every protocol message the proxy exchanged
// with the user function on each entity's stream (init with an empty state, command ids 1, 2, …
// per stream, replies with their state actions), and that the configured entity passivates.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { startModelUserFunction } from './model/server.js';
import { startTck } from './support/harness.js';
import { ve } from './support/protocol-messages.js';
import { valueEntityModel as M, entityIds } from './support/models.js';

const tck = await startTck({ startUserFunction: startModelUserFunction });
const { client, http, interceptor } = tck;
t.teardown(() => tck.stop());
t.afterEach(() => interceptor.verifyNoMoreInteractions());
const nextId = entityIds('ve-proxy');
const { req, request, response, updateStates, deleteState, forwardTo, sideEffectTo, failWith, update, sideEffects } = M;
const process = (id: string, actions: Parameters<typeof req>[1] = []) => client.call(M.service, 'Process', req(id, actions));
const Response = (message = '') => ({ message });

t.test('verify state changes', async (t) => {
  const id = nextId();
  t.same(await process(id), Response());
  const connection = await interceptor
    .expectValueEntityConnection()
    .expectIncoming(ve.init(M.service, id))
    .expectIncoming(ve.command(1, id, 'Process', request(id)))
    .expectOutgoing(ve.reply(1, response()));

  const steps: Array<[Parameters<typeof req>[1], string, ReturnType<typeof update> | undefined]> = [
    [updateStates('one'), 'one', update('one')],
    [updateStates('two'), 'two', update('two')],
    [[], 'two', undefined],
    [[deleteState()], '', M.delete()],
    [[], '', undefined],
    [updateStates('foo'), 'foo', update('foo')],
    [[deleteState()], '', M.delete()],
  ];
  let commandId = 1;
  for (const [actions, state, effects] of steps) {
    commandId++;
    t.same(await process(id, actions), Response(state), `command ${commandId} answers "${state}"`);
    await connection.expectIncoming(ve.command(commandId, id, 'Process', request(id, actions))).expectOutgoing(ve.reply(commandId, response(state), effects));
  }
});

t.test('verify forwards and side effects', async (t) => {
  const id = nextId();
  t.same(await process(id, updateStates('one')), Response('one'));
  const connection = await interceptor
    .expectValueEntityConnection()
    .expectIncoming(ve.init(M.service, id))
    .expectIncoming(ve.command(1, id, 'Process', request(id, updateStates('one'))))
    .expectOutgoing(ve.reply(1, response('one'), update('one')));

  t.same(await process(id, [forwardTo(id)]), Response(), 'a forward answers with ValueEntityTwo\'s (empty) Response');
  await connection.expectIncoming(ve.command(2, id, 'Process', request(id, [forwardTo(id)]))).expectOutgoing(ve.forward(2, M.serviceTwo, 'Call', request(id)));
  const connection2 = await interceptor
    .expectValueEntityConnection()
    .expectIncoming(ve.init(M.serviceTwo, id))
    .expectIncoming(ve.command(1, id, 'Call', request(id)))
    .expectOutgoing(ve.reply(1, response()));

  t.same(await process(id, [sideEffectTo(id)]), Response('one'), 'a side effect does not change the reply');
  await connection.expectIncoming(ve.command(3, id, 'Process', request(id, [sideEffectTo(id)]))).expectOutgoing(ve.reply(3, response('one'), sideEffects(id)));
  await connection2.expectIncoming(ve.command(2, id, 'Call', request(id))).expectOutgoing(ve.reply(2, response()));

  t.same(await process(id), Response('one'));
  await connection.expectIncoming(ve.command(4, id, 'Process', request(id))).expectOutgoing(ve.reply(4, response('one')));
});

t.test('verify failures', async (t) => {
  const id = nextId();
  t.same(await process(id, updateStates('one')), Response('one'));
  const connection = await interceptor
    .expectValueEntityConnection()
    .expectIncoming(ve.init(M.service, id))
    .expectIncoming(ve.command(1, id, 'Process', request(id, updateStates('one'))))
    .expectOutgoing(ve.reply(1, response('one'), update('one')));

  const failed = await client.callFailing(M.service, 'Process', req(id, [failWith('expected failure')]));
  t.equal(failed.details, 'expected failure', 'the status description is the failure description');
  t.equal(failed.code, grpc.status.UNKNOWN, 'with status UNKNOWN');
  await connection.expectIncoming(ve.command(2, id, 'Process', request(id, [failWith('expected failure')]))).expectOutgoing(ve.actionFailure(2, 'expected failure'));

  t.same(await process(id), Response('one'), 'the state is kept after a failure');
  await connection.expectIncoming(ve.command(3, id, 'Process', request(id))).expectOutgoing(ve.reply(3, response('one')));
});

t.test('verify HTTP API', async (t) => {
  const id = nextId();
  t.equal(await http.requestJson(`tck/model/entity/${id}`, '{}'), '{"message":""}', 'defaults are rendered');
  const connection = await interceptor
    .expectValueEntityConnection()
    .expectIncoming(ve.init(M.service, id))
    .expectIncoming(ve.command(1, id, 'Process', request(id)))
    .expectOutgoing(ve.reply(1, response()));

  t.equal(await http.requestJson('cloudstate.tck.model.valueentity.ValueEntityTwo/Call', `{"id": "${id}"}`), '{"message":""}', 'the default route of a method without an HTTP rule');
  await interceptor
    .expectValueEntityConnection()
    .expectIncoming(ve.init(M.serviceTwo, id))
    .expectIncoming(ve.command(1, id, 'Call', request(id)))
    .expectOutgoing(ve.reply(1, response()));

  t.equal(await http.requestJson(`tck/model/entity/${id}`, '{"actions": [{"update": {"value": "one"}}]}'), '{"message":"one"}');
  await connection.expectIncoming(ve.command(2, id, 'Process', request(id, updateStates('one')))).expectOutgoing(ve.reply(2, response('one'), update('one')));

  t.equal(await http.requestToError(`tck/model/entity/${id}`, '{"actions": [{"fail": {"message": "expected failure"}}]}'), 'expected failure', 'a failure is HTTP 500 with its description');
  await connection.expectIncoming(ve.command(3, id, 'Process', request(id, [failWith('expected failure')]))).expectOutgoing(ve.actionFailure(3, 'expected failure'));

  t.equal(await http.requestJson(`tck/model/entity/${id}`, '{"actions": [{"update": {"value": "two"}}]}'), '{"message":"two"}');
  await connection.expectIncoming(ve.command(4, id, 'Process', request(id, updateStates('two')))).expectOutgoing(ve.reply(4, response('two'), update('two')));

  t.equal(await http.requestJson(`tck/model/entity/${id}`, '{}'), '{"message":"two"}');
  await connection.expectIncoming(ve.command(5, id, 'Process', request(id))).expectOutgoing(ve.reply(5, response('two')));
});

t.test('verify passivation timeout', async (t) => {
  const id = nextId();
  t.same(await client.call(M.serviceConfigured, 'Call', req(id)), Response());
  await interceptor
    .expectValueEntityConnection()
    .expectIncoming(ve.init(M.serviceConfigured, id))
    .expectIncoming(ve.command(1, id, 'Call', request(id)))
    .expectOutgoing(ve.reply(1, response()))
    .expectClosed(2_000); // passivated: the configured timeout is 100 ms
  t.pass('the entity stream was closed within 2 s');
});
