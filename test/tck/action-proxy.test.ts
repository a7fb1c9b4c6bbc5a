// TCK proxy tests, actions (reference: ActionTCK "verifyActionProxy"): a gRPC/HTTP client calls
// the proxy; the interceptor checks the protocol messages the proxy exchanged with the user
// function (action commands compared without their metadata, as the reference does).
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { startModelUserFunction } from './model/server.js';
import { startTck } from './support/harness.js';
import { encode } from './support/codec.js';
import { onceFinished } from './support/grpc-calls.js';
import { action } from './support/protocol-messages.js';
import { actionModel as M, type ActionRequest, type ProcessStep } from './support/models.js';

const tck = await startTck({ startUserFunction: startModelUserFunction });
const { client, http, interceptor } = tck;
t.teardown(() => tck.stop());
t.afterEach(() => interceptor.verifyNoMoreInteractions());

const { single, request, group, replyWith, forwardTo, failWith, sideEffectTo, sideEffects } = M;
const Service = M.service;
const processUnary = (req: ActionRequest) => action.command(Service, 'ProcessUnary', M.requestPayload(req));
const processStreamedOut = (req: ActionRequest) => action.command(Service, 'ProcessStreamedOut', M.requestPayload(req));
const processStreamedIn = action.command(Service, 'ProcessStreamedIn');
const processStreamed = action.command(Service, 'ProcessStreamed');
const payload = (...steps: ProcessStep[]) => action.payload(M.requestPayload(single(...steps)));
const serviceTwoCall = (id: string) => action.command(M.serviceTwo, 'Call', M.otherRequest(id));
const reply = (message: string, effects = sideEffects()) => action.reply(M.response(message), effects);
const forwarded = (id: string, effects = sideEffects()) => action.forward(M.serviceTwo, 'Call', M.otherRequest(id), effects);
const Response = (message = '') => ({ message });

t.test('verify unary command processing', async (t) => {
  t.same(await client.call(Service, 'ProcessUnary', single(replyWith('one'))), Response('one'));
  await interceptor.expectActionUnaryConnection().expectIncoming(processUnary(single(replyWith('one')))).expectOutgoing(reply('one'));
});

t.test('verify streamed-in command processing', async (t) => {
  const call = client.clientStream(Service, 'ProcessStreamedIn').send(single(replyWith('two'))).complete();
  await call.expect({ message: 'two' }).expectClosed();
  t.pass('the client got Response("two")');
  await interceptor
    .expectActionStreamedInConnection()
    .expectIncoming(processStreamedIn)
    .expectIncoming(payload(replyWith('two')))
    .expectInComplete()
    .expectOutgoing(reply('two'));
});

t.test('verify streamed-out command processing', async (t) => {
  const req = request(group(replyWith('A')), group(replyWith('B')), group(replyWith('C')));
  await client.serverStream(Service, 'ProcessStreamedOut', req).expect(Response('A')).expect(Response('B')).expect(Response('C')).expectClosed();
  t.pass('the client got A, B, C and the end of the stream');
  await interceptor
    .expectActionStreamedOutConnection()
    .expectIncoming(processStreamedOut(req))
    .expectOutgoing(reply('A'))
    .expectOutgoing(reply('B'))
    .expectOutgoing(reply('C'))
    .expectOutComplete();
});

t.test('verify streamed command processing', async (t) => {
  await client
    .bidi(Service, 'ProcessStreamed')
    .send(single(replyWith('X')))
    .send(single(replyWith('Y')))
    .send(single(replyWith('Z')))
    .complete()
    .expect(Response('X'))
    .expect(Response('Y'))
    .expect(Response('Z'))
    .expectClosed();
  t.pass('the client got X, Y, Z and the end of the stream');
  await interceptor
    .expectActionStreamedConnection()
    .expectIncoming(processStreamed)
    .expectIncoming(payload(replyWith('X')))
    .expectOutgoing(reply('X'))
    .expectIncoming(payload(replyWith('Y')))
    .expectOutgoing(reply('Y'))
    .expectIncoming(payload(replyWith('Z')))
    .expectOutgoing(reply('Z'))
    .expectClosed();
});

t.test('verify unary forwards and side effects', async (t) => {
  t.same(await client.call(Service, 'ProcessUnary', single(forwardTo('other'))), Response(), 'a forward answers with the target\'s (empty) Response');
  await interceptor.expectActionUnaryConnection().expectIncoming(processUnary(single(forwardTo('other')))).expectOutgoing(forwarded('other'));
  await interceptor.expectActionUnaryConnection().expectIncoming(serviceTwoCall('other')).expectOutgoing(reply(''));

  t.same(await client.call(Service, 'ProcessUnary', single(replyWith(''), sideEffectTo('another'))), Response(), 'the reply');
  await interceptor
    .expectActionUnaryConnection()
    .expectIncoming(processUnary(single(replyWith(''), sideEffectTo('another'))))
    .expectOutgoing(reply('', sideEffects('another')));
  await interceptor.expectActionUnaryConnection().expectIncoming(serviceTwoCall('another')).expectOutgoing(reply(''));
});

t.test('verify streamed forwards and side effects', async (t) => {
  const call = await client.bidi(Service, 'ProcessStreamed').send(single(forwardTo('one'))).expect(Response());
  t.pass('a forward answers with the target\'s (empty) Response');
  const connection = await interceptor
    .expectActionStreamedConnection()
    .expectIncoming(processStreamed)
    .expectIncoming(payload(forwardTo('one')))
    .expectOutgoing(forwarded('one'));
  await interceptor.expectActionUnaryConnection().expectIncoming(serviceTwoCall('one')).expectOutgoing(reply(''));

  call.send(single(sideEffectTo('two')));
  await connection.expectIncoming(payload(sideEffectTo('two'))).expectOutgoing(action.noReply(sideEffects('two')));
  await interceptor.expectActionUnaryConnection().expectIncoming(serviceTwoCall('two')).expectOutgoing(reply(''));

  await call.chain().complete().expectClosed();
  t.pass('the client stream ends after the client completed');
  await connection.expectClosed();
});

t.test('verify unary failures', async (t) => {
  const failed = await client.callFailing(Service, 'ProcessUnary', single(failWith('expected failure')));
  t.equal(failed.details, 'expected failure', 'the status description is the failure description');
  t.equal(failed.code, grpc.status.UNKNOWN, 'with status UNKNOWN');
  await interceptor.expectActionUnaryConnection().expectIncoming(processUnary(single(failWith('expected failure')))).expectOutgoing(action.failure('expected failure'));
});

t.test('verify streamed failures', async (t) => {
  const call = client.bidi(Service, 'ProcessStreamed').send(single(failWith('expected failure')));
  await call.expectError((status) => {
    t.equal(status.details, 'expected failure', 'the client stream fails with the failure description');
    t.equal(status.code, grpc.status.UNKNOWN, 'and status UNKNOWN');
  });
  await interceptor
    .expectActionStreamedConnection()
    .expectIncoming(processStreamed)
    .expectIncoming(payload(failWith('expected failure')))
    .expectOutgoing(action.failure('expected failure'))
    .expectInEnd(); // the call is over: the proxy does not leave the user function's stream open
});

t.test('verify unary HTTP API', async (t) => {
  t.equal(await http.requestJson('tck/model/action/unary', '{"groups": [{"steps": [{"reply": {"message": "foo"}}]}]}'), '{"message":"foo"}');
  await interceptor.expectActionUnaryConnection().expectIncoming(processUnary(single(replyWith('foo')))).expectOutgoing(reply('foo'));

  t.equal(await http.requestToError('tck/model/action/unary', '{"groups": [{"steps": [{"fail": {"message": "boom"}}]}]}'), 'boom', 'a failure is HTTP 500 with its description');
  await interceptor.expectActionUnaryConnection().expectIncoming(processUnary(single(failWith('boom')))).expectOutgoing(action.failure('boom'));
});

// Malformed protobuf (issue 5): INVALID_ARGUMENT from the proxy, which decodes each request as the
// method's input; the user function never sees the bytes. A raw client: the TCK's encodes its messages.
t.test('verify malformed requests are rejected with INVALID_ARGUMENT', async (t) => {
  const raw = new grpc.Client(`127.0.0.1:${tck.proxyPort}`, grpc.credentials.createInsecure());
  t.teardown(() => raw.close());
  const identity = (b: Buffer) => b;
  const truncatedVarint = Buffer.from([0x08, 0x80]); // field 1, varint: its continuation byte has no successor
  const good = (step: ProcessStep) => Buffer.from(encode('cloudstate.tck.model.action.Request', single(step)));
  const invalid = (method: string) => new RegExp(`^/${Service}/${method}: the request is not a valid cloudstate.tck.model.action.Request: index out of range`.replaceAll('.', '\\.'));
  const statusOf = (call: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>) => new Promise<grpc.StatusObject>((resolve) => onceFinished(call, resolve));

  const unary = await new Promise<grpc.ServiceError | null>((resolve) => raw.makeUnaryRequest(`/${Service}/ProcessUnary`, identity, identity, truncatedVarint, (err) => resolve(err)));
  t.equal(unary?.code, grpc.status.INVALID_ARGUMENT, 'unary: INVALID_ARGUMENT');
  t.match(unary?.details, invalid('ProcessUnary'), 'naming the method and the decode error');

  const out = await statusOf(raw.makeServerStreamRequest(`/${Service}/ProcessStreamedOut`, identity, identity, truncatedVarint).on('data', () => t.fail('no response')));
  t.equal(out.code, grpc.status.INVALID_ARGUMENT, 'streamed out: INVALID_ARGUMENT');
  t.match(out.details, invalid('ProcessStreamedOut'));
  interceptor.verifyNoMoreInteractions(); // nothing reached the user function

  const bidi = raw.makeBidiStreamRequest(`/${Service}/ProcessStreamed`, identity, identity);
  const responses: Buffer[] = [];
  bidi.on('data', (b: Buffer) => responses.push(b));
  const ended = statusOf(bidi);
  bidi.write(good(replyWith('X')));
  const connection = await interceptor.expectActionStreamedConnection().expectIncoming(processStreamed).expectIncoming(payload(replyWith('X'))).expectOutgoing(reply('X'));
  bidi.write(truncatedVarint);
  const status = await ended;
  t.equal(status.code, grpc.status.INVALID_ARGUMENT, 'streamed: the call ends INVALID_ARGUMENT at the malformed message');
  t.match(status.details, invalid('ProcessStreamed'));
  t.equal(responses.length, 1, 'after the reply to the good message');
  await connection.expect.expectInEnd(); // the user function's stream is cancelled, without the malformed message
});
