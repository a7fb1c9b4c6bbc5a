/**
 * The TCK's event-sourced proxy tests (reference: EventSourcedEntityTCK
 * "verifyEventSourcedEntityProxy") as one suite, run against any user function that implements
 * the event-sourced TCK model: a gRPC/HTTP client calls the proxy; the interceptor checks,
 * exactly, every protocol message the proxy exchanged with the user function — init, commands
 * numbered per stream, replies with events and snapshots (every 5 events) — and, when a command
 * fails after emitting events, that the user function asks for a restart and the proxy closes the
 * stream and opens a new one with init and the replay of the persisted events. (A user function
 * may instead roll back by itself and not ask; to the proxy that is a plain failure, covered here
 * too. Both of this repository's event-sourced TCK user functions ask, as the Java support does.)
 */
import * as grpc from '@grpc/grpc-js';
import type { Test } from 'tap';
import type { TckEnvironment } from './harness.js';
import type { InterceptedConnection } from './intercepted-connection.js';
import { es } from './protocol-messages.js';
import { eventSourcedModel as M, entityIds, type EventSourcedAction } from './models.js';

/** Registers the suite's tests on `t`, talking to the proxy of `tck`. */
export function eventSourcedProxySuite(t: Test, tck: TckEnvironment): void {
  const { client, http, interceptor } = tck;
  const nextId = entityIds('es-proxy');
  const { req, request, response, emitEvents, emitEvent, forwardTo, sideEffectTo, failWith, events, snapshotAndEvents, sideEffects, persisted } = M;
  const process = (id: string, actions: EventSourcedAction[] = []) => client.call(M.service, 'Process', req(id, actions));
  const Response = (message = '') => ({ message });
  /** After a failure with restart: the proxy closed the entity's stream and opened a new one, re-initialized with the persisted events replayed. */
  const restartedReplaying = async (connection: InterceptedConnection, id: string, values: string[]): Promise<InterceptedConnection> => {
    await connection.expectClosed();
    return values.reduce((chain, value, i) => chain.expectIncoming(es.event(i + 1, persisted(value))), interceptor.expectEventSourcedConnection().expectIncoming(es.init(M.service, id)));
  };

  t.test('verify state changes', async (t) => {
    const id = nextId();
    t.same(await process(id), Response());
    const connection = await interceptor
      .expectEventSourcedConnection()
      .expectIncoming(es.init(M.service, id))
      .expectIncoming(es.command(1, id, 'Process', request(id)))
      .expectOutgoing(es.reply(1, response()));

    const steps: Array<[string[], string, ReturnType<typeof events>]> = [
      [['A'], 'A', events('A')],
      [['B', 'C', 'D'], 'ABCD', events('B', 'C', 'D')],
      [['E'], 'ABCDE', snapshotAndEvents('ABCDE', 'E')],
      [['F', 'G', 'H', 'I'], 'ABCDEFGHI', events('F', 'G', 'H', 'I')],
      [['J', 'K'], 'ABCDEFGHIJK', snapshotAndEvents('ABCDEFGHIJK', 'J', 'K')],
    ];
    let commandId = 1;
    for (const [values, state, effects] of steps) {
      commandId++;
      t.same(await process(id, emitEvents(...values)), Response(state), `command ${commandId} answers "${state}"`);
      await connection.expectIncoming(es.command(commandId, id, 'Process', request(id, emitEvents(...values)))).expectOutgoing(es.reply(commandId, response(state), effects));
    }
  });

  t.test('verify forwards and side effects', async (t) => {
    const id = nextId();
    t.same(await process(id, emitEvents('one')), Response('one'));
    const connection = await interceptor
      .expectEventSourcedConnection()
      .expectIncoming(es.init(M.service, id))
      .expectIncoming(es.command(1, id, 'Process', request(id, emitEvents('one'))))
      .expectOutgoing(es.reply(1, response('one'), events('one')));

    t.same(await process(id, [forwardTo(id)]), Response(), 'a forward answers with EventSourcedTwo\'s (empty) Response');
    await connection.expectIncoming(es.command(2, id, 'Process', request(id, [forwardTo(id)]))).expectOutgoing(es.forward(2, M.serviceTwo, 'Call', request(id)));
    const connection2 = await interceptor
      .expectEventSourcedConnection()
      .expectIncoming(es.init(M.serviceTwo, id))
      .expectIncoming(es.command(1, id, 'Call', request(id)))
      .expectOutgoing(es.reply(1, response()));

    t.same(await process(id, [sideEffectTo(id)]), Response('one'), 'a side effect does not change the reply');
    await connection.expectIncoming(es.command(3, id, 'Process', request(id, [sideEffectTo(id)]))).expectOutgoing(es.reply(3, response('one'), sideEffects(id)));
    await connection2.expectIncoming(es.command(2, id, 'Call', request(id))).expectOutgoing(es.reply(2, response()));

    t.same(await process(id), Response('one'));
    await connection.expectIncoming(es.command(4, id, 'Process', request(id))).expectOutgoing(es.reply(4, response('one')));
  });

  t.test('verify failures', async (t) => {
    const id = nextId();
    t.same(await process(id, emitEvents('1', '2', '3')), Response('123'));
    const connection = await interceptor
      .expectEventSourcedConnection()
      .expectIncoming(es.init(M.service, id))
      .expectIncoming(es.command(1, id, 'Process', request(id, emitEvents('1', '2', '3'))))
      .expectOutgoing(es.reply(1, response('123'), events('1', '2', '3')));

    const failed = await client.callFailing(M.service, 'Process', req(id, [failWith('expected failure')]));
    t.equal(failed.details, 'expected failure', 'the status description is the failure description');
    t.equal(failed.code, grpc.status.UNKNOWN, 'with status UNKNOWN');
    await connection.expectIncoming(es.command(2, id, 'Process', request(id, [failWith('expected failure')]))).expectOutgoing(es.actionFailure(2, 'expected failure'));

    t.same(await process(id), Response('123'), 'the state is kept after a failure');
    await connection.expectIncoming(es.command(3, id, 'Process', request(id))).expectOutgoing(es.reply(3, response('123')));

    const emitAndFail = [emitEvent('4'), failWith('another failure'), emitEvent('5')];
    const failed2 = await client.callFailing(M.service, 'Process', req(id, emitAndFail));
    t.equal(failed2.details, 'another failure', 'emit then fail: the client gets the failure');
    // The user function asks for a restart: the failure, with no events.
    await connection.expectIncoming(es.command(4, id, 'Process', request(id, emitAndFail))).expectOutgoing(es.actionFailure(4, 'another failure', true));
    const connection2 = await restartedReplaying(connection, id, ['1', '2', '3']);
    t.same(await process(id, emitEvents('4', '5')), Response('12345'), 'the failed command\'s event was not persisted');
    await connection2.expectIncoming(es.command(1, id, 'Process', request(id, emitEvents('4', '5')))).expectOutgoing(es.reply(1, response('12345'), snapshotAndEvents('12345', '4', '5')));
  });

  t.test('verify HTTP API', async (t) => {
    const id = nextId();
    const path = `tck/model/eventsourced/${id}`;
    t.equal(await http.requestJson(path, '{}'), '{"message":""}', 'defaults are rendered');
    const connection = await interceptor
      .expectEventSourcedConnection()
      .expectIncoming(es.init(M.service, id))
      .expectIncoming(es.command(1, id, 'Process', request(id)))
      .expectOutgoing(es.reply(1, response()));

    t.equal(await http.requestJson('cloudstate.tck.model.EventSourcedTwo/Call', `{"id": "${id}"}`), '{"message":""}', 'the default route of a method without an HTTP rule');
    await interceptor
      .expectEventSourcedConnection()
      .expectIncoming(es.init(M.serviceTwo, id))
      .expectIncoming(es.command(1, id, 'Call', request(id)))
      .expectOutgoing(es.reply(1, response()));

    t.equal(await http.requestJson(path, '{"actions": [{"emit": {"value": "x"}}]}'), '{"message":"x"}');
    await connection.expectIncoming(es.command(2, id, 'Process', request(id, emitEvents('x')))).expectOutgoing(es.reply(2, response('x'), events('x')));

    t.equal(await http.requestToError(path, '{"actions": [{"fail": {"message": "expected failure"}}]}'), 'expected failure', 'a failure is HTTP 500 with its description');
    await connection.expectIncoming(es.command(3, id, 'Process', request(id, [failWith('expected failure')]))).expectOutgoing(es.actionFailure(3, 'expected failure'));

    t.equal(await http.requestJson(path, '{"actions": [{"emit": {"value": "y"}}]}'), '{"message":"xy"}');
    await connection.expectIncoming(es.command(4, id, 'Process', request(id, emitEvents('y')))).expectOutgoing(es.reply(4, response('xy'), events('y')));

    t.equal(await http.requestToError(path, '{"actions": [{"emit": {"value": "z"}}, {"fail": {"message": "emit then fail"}}]}'), 'emit then fail');
    await connection
      .expectIncoming(es.command(5, id, 'Process', request(id, [emitEvent('z'), failWith('emit then fail')])))
      .expectOutgoing(es.actionFailure(5, 'emit then fail', true));
    const connection2 = await restartedReplaying(connection, id, ['x', 'y']);
    t.equal(await http.requestJson(path, '{"actions": [{"emit": {"value": "z"}}]}'), '{"message":"xyz"}');
    await connection2.expectIncoming(es.command(1, id, 'Process', request(id, emitEvents('z')))).expectOutgoing(es.reply(1, response('xyz'), events('z')));
  });

  t.test('verify passivation timeout', async (t) => {
    const id = nextId();
    t.same(await client.call(M.serviceConfigured, 'Call', req(id)), Response());
    await interceptor
      .expectEventSourcedConnection()
      .expectIncoming(es.init(M.serviceConfigured, id))
      .expectIncoming(es.command(1, id, 'Call', request(id)))
      .expectOutgoing(es.reply(1, response()))
      .expectClosed(2_000); // passivated: the configured timeout is 100 ms
    t.pass('the entity stream was closed within 2 s');
  });
}
