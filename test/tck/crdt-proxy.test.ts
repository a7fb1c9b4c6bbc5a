// TCK proxy tests, CRDT entities (reference: CrdtEntityTCK "verifyCrdtEntityProxy"): a gRPC/HTTP
// client calls the proxy; the interceptor checks, exactly, every protocol message the proxy
// exchanged with the user function on each entity's stream: init without state, commands with
// ids per stream, replies with their deltas, deletes that close the stream, streamed calls
// (a Vote tracking connections: cancellations and their updates), HTTP/JSON, passivation.
//
// Skips, saying why, while this package's proxy does not support CRDT entities (its
// supported entity types, and the ProxyInfo it sends at discovery, lack cloudstate.crdt.Crdt).
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { EntityType } from '../../src/protocol/index.js';
import { proxySupportsCrdt, startModelUserFunction } from './model/server.js';
import { canonical } from './support/codec.js';
import { crdt, crdtEffects as fx } from './support/crdt-messages.js';
import { crdtModel as M, type Response } from './support/crdt-model.js';
import { startTck } from './support/harness.js';

const RESPONSE = 'cloudstate.tck.model.crdt.Response';
const unsupported = (why: string) => t.test('CRDT proxy tests', { skip: `the proxy does not support CRDT entities yet: ${why}` }, () => undefined);

if (!proxySupportsCrdt) {
  unsupported(`its supported entity types lack ${EntityType.crdt}`);
} else {
  const tck = await startTck({ startUserFunction: () => startModelUserFunction({ crdt: true }) });
  t.teardown(() => tck.stop());
  const advertised = tck.discovery.proxyInfo.supported_entity_types ?? [];
  if (!advertised.includes(EntityType.crdt)) {
    unsupported(`its ProxyInfo at discovery lists ${advertised.join(', ')}`);
  } else {
    proxyTests(tck);
  }
}

function proxyTests(tck: Awaited<ReturnType<typeof startTck>>): void {
  const { client, http, interceptor } = tck;
  t.afterEach(() => interceptor.verifyNoMoreInteractions());
  let n = 0;
  const nextId = (type: string) => `${type}-proxy-${++n}`;
  const { GCounter, PNCounter, GSet, Vote, req, request, requestDelete, forwardTo, sideEffectTo, failWith, deleteCrdt } = M;
  const process = async (id: string, actions: Parameters<typeof req>[1] = []) => canonical(RESPONSE, await client.call(M.service, 'Process', req(id, actions)));
  const response = (r: Response = {}) => canonical(RESPONSE, r);
  const command = (id: number, entityId: string, actions: Parameters<typeof req>[1] = [], name = 'Process') => crdt.command(id, entityId, name, request(entityId, actions));
  const reply = (id: number, r: Response, effects = {}) => crdt.reply(id, M.response(r), effects);

  t.test('verify state changes', async (t) => {
    const id = nextId('PNCounter');
    t.same(await process(id), response(PNCounter.state(0)));
    const connection = await interceptor
      .expectCrdtConnection()
      .expectIncoming(crdt.init(M.service, id))
      .expectIncoming(command(1, id))
      .expectOutgoing(reply(1, PNCounter.state(0)));

    t.same(await process(id, PNCounter.changeBy(+1, -2, +3)), response(PNCounter.state(+2)));
    await connection.expectIncoming(command(2, id, PNCounter.changeBy(+1, -2, +3))).expectOutgoing(reply(2, PNCounter.state(+2), PNCounter.update(+2)));

    t.same(await process(id, PNCounter.changeBy(+4, -5, +6)), response(PNCounter.state(+7)));
    await connection.expectIncoming(command(3, id, PNCounter.changeBy(+4, -5, +6))).expectOutgoing(reply(3, PNCounter.state(+7), PNCounter.update(+5)));

    t.same(await process(id, [requestDelete()]), response(PNCounter.state(+7)));
    await connection.expectIncoming(command(4, id, [requestDelete()])).expectOutgoing(reply(4, PNCounter.state(+7), deleteCrdt())).expectClosed();
  });

  t.test('verify forwards and side effects', async (t) => {
    const id = nextId('GSet');
    t.same(await process(id, GSet.add('one')), response(GSet.state('one')));
    const connection = await interceptor
      .expectCrdtConnection()
      .expectIncoming(crdt.init(M.service, id))
      .expectIncoming(command(1, id, GSet.add('one')))
      .expectOutgoing(reply(1, GSet.state('one'), GSet.update('one')));

    t.same(await process(id, [forwardTo(id)]), response(), 'a forward answers with CrdtTwo\'s (empty) Response');
    await connection.expectIncoming(command(2, id, [forwardTo(id)])).expectOutgoing(crdt.forward(2, M.serviceTwo, 'Call', request(id)));
    const connection2 = await interceptor
      .expectCrdtConnection()
      .expectIncoming(crdt.init(M.serviceTwo, id))
      .expectIncoming(command(1, id, [], 'Call'))
      .expectOutgoing(reply(1, {}));

    t.same(await process(id, [sideEffectTo(id)]), response(GSet.state('one')), 'a side effect does not change the reply');
    await connection.expectIncoming(command(3, id, [sideEffectTo(id)])).expectOutgoing(reply(3, GSet.state('one'), M.sideEffects(id)));
    await connection2.expectIncoming(command(2, id, [], 'Call')).expectOutgoing(reply(2, {}));

    t.same(await process(id, [requestDelete()]), response(GSet.state('one')));
    await connection.expectIncoming(command(4, id, [requestDelete()])).expectOutgoing(reply(4, GSet.state('one'), deleteCrdt())).expectClosed();

    t.same(canonical(RESPONSE, await client.call(M.serviceTwo, 'Call', req(id, [requestDelete()]))), response());
    await connection2.expectIncoming(command(3, id, [requestDelete()], 'Call')).expectOutgoing(reply(3, {}, deleteCrdt())).expectClosed();
  });

  t.test('verify failures', async (t) => {
    const id = nextId('GCounter');
    t.same(await process(id, GCounter.incrementBy(42)), response(GCounter.state(42)));
    const connection = await interceptor
      .expectCrdtConnection()
      .expectIncoming(crdt.init(M.service, id))
      .expectIncoming(command(1, id, GCounter.incrementBy(42)))
      .expectOutgoing(reply(1, GCounter.state(42), GCounter.update(42)));

    const failed = await client.callFailing(M.service, 'Process', req(id, [failWith('expected failure')]));
    t.equal(failed.details, 'expected failure', 'the status description is the failure description');
    t.equal(failed.code, grpc.status.UNKNOWN, 'with status UNKNOWN');
    await connection.expectIncoming(command(2, id, [failWith('expected failure')])).expectOutgoing(crdt.failure(2, 'expected failure'));

    t.same(await process(id, [requestDelete()]), response(GCounter.state(42)), 'the state is kept after a failure');
    await connection.expectIncoming(command(3, id, [requestDelete()])).expectOutgoing(reply(3, GCounter.state(42), deleteCrdt())).expectClosed();
  });

  t.test('verify streamed responses for connection tracking', async (t) => {
    const id = nextId('Vote');
    const state0 = Vote.state(false, 0, 1);
    const state1 = Vote.state(true, 1, 1);
    const monitor = client.serverStream(M.service, 'ProcessStreamed', M.streamedReq(id));
    await monitor.expect(state0);
    const connection = await interceptor
      .expectCrdtConnection()
      .expectIncoming(crdt.init(M.service, id))
      .expectIncoming(crdt.command(1, id, 'ProcessStreamed', M.streamedRequest(id), true))
      .expectOutgoing(reply(1, state0, crdt.streamedFx()));

    const connectFields = { initial_update: Vote.updateWith(true), cancel_update: Vote.updateWith(false), empty: true };
    const connect = client.serverStream(M.service, 'ProcessStreamed', M.streamedReq(id, connectFields));
    await monitor.expect(state1);
    const connectCall = await connect;
    t.same(connectCall.recording.out.events.pending(), [], 'the connecting call received nothing');
    await connection
      .expectIncoming(crdt.command(2, id, 'ProcessStreamed', M.streamedRequest(id, connectFields), true))
      .expectOutgoing(crdt.noReply(2, fx(crdt.streamedFx(), Vote.update(true))))
      .expectOutgoing(crdt.streamed(1, M.response(state1)));

    connectCall.cancel();
    await monitor.expect(state0);
    await connection
      .expectIncoming(crdt.streamCancelled(2, id))
      .expectOutgoing(crdt.streamCancelledResponse(2, Vote.update(false)))
      .expectOutgoing(crdt.streamed(1, M.response(state0)));

    (await monitor).cancel();
    await connection.expectIncoming(crdt.streamCancelled(1, id)).expectOutgoing(crdt.streamCancelledResponse(1));

    t.same(await process(id, [requestDelete()]), response(state0));
    await connection.expectIncoming(command(3, id, [requestDelete()])).expectOutgoing(reply(3, state0, deleteCrdt())).expectClosed();
  });

  t.test('verify HTTP API', async (t) => {
    const id = nextId('PNCounter');
    t.equal(await http.requestJson(`tck/model/crdt/${id}`, '{}'), '{"state":{"pncounter":{"value":"0"}}}', 'int64 rendered as a string');
    const connection = await interceptor
      .expectCrdtConnection()
      .expectIncoming(crdt.init(M.service, id))
      .expectIncoming(command(1, id))
      .expectOutgoing(reply(1, PNCounter.state(0)));

    t.equal(await http.requestJson(`tck/model/crdt/${id}`, '{"actions": [{"update": {"pncounter": {"change": 42} }}]}'), '{"state":{"pncounter":{"value":"42"}}}');
    await connection.expectIncoming(command(2, id, PNCounter.changeBy(+42))).expectOutgoing(reply(2, PNCounter.state(+42), PNCounter.update(+42)));

    t.equal(await http.requestToError(`tck/model/crdt/${id}`, '{"actions": [{"fail": {"message": "expected failure"}}]}'), 'expected failure', 'a failure is HTTP 500 with its description');
    await connection.expectIncoming(command(3, id, [failWith('expected failure')])).expectOutgoing(crdt.failure(3, 'expected failure'));

    t.equal(await http.requestJson(`tck/model/crdt/${id}`, '{"actions": [{"update": {"pncounter": {"change": -123} }}]}'), '{"state":{"pncounter":{"value":"-81"}}}');
    await connection.expectIncoming(command(4, id, PNCounter.changeBy(-123))).expectOutgoing(reply(4, PNCounter.state(-81), PNCounter.update(-123)));

    t.equal(await http.requestJson(`tck/model/crdt/${id}`, '{"actions": [{"delete": {}}]}'), '{"state":{"pncounter":{"value":"-81"}}}');
    await connection.expectIncoming(command(5, id, [requestDelete()])).expectOutgoing(reply(5, PNCounter.state(-81), deleteCrdt())).expectClosed();
  });

  t.test('verify passivation timeout', async (t) => {
    const id = nextId('Configured');
    t.same(canonical(RESPONSE, await client.call(M.serviceConfigured, 'Call', req(id))), response());
    await interceptor
      .expectCrdtConnection()
      .expectIncoming(crdt.init(M.serviceConfigured, id))
      .expectIncoming(command(1, id, [], 'Call'))
      .expectOutgoing(reply(1, {}))
      .expectClosed(2_000); // passivated: the configured timeout is 100 ms
    t.pass('the entity stream was closed within 2 s');
  });
}
