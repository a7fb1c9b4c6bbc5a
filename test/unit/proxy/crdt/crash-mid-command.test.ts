// A user function that crashes while a CRDT command is outstanding, end to end through an
// in-process proxy that reaches the scripted user function through a TCP link the test cuts
// (after the user function received the command). As the reference proxy's CrdtEntity crashes
// when its stream closes or fails, the command fails "Entity terminating" (gRPC UNKNOWN /
// HTTP 500), not UNAVAILABLE, whether or not the user function had answered on the entity's
// stream before; the crash is reported; other entities are served; the entity's next command
// starts it again from the replicated state. (The same rule as event-sourced and value
// entities: ../entities/crash-mid-command.test.ts. A user function that cannot be reached at
// all still fails CRDT commands UNAVAILABLE: support.test.ts.)
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { ENTITY_TERMINATING } from '../../../../src/proxy/crdt/index.js';
import { b64 } from '../entities/fake-user-function.js';
import { startLink } from '../tcp-link.js';
import { startTestProxy } from '../test-proxy.js';
import { crdtModel, key, msgAny, startCrdtUserFunction } from './harness.js';

const identity = (b: Buffer) => b;
const text = (b: Buffer) => (crdtModel().root.lookupType('c.Msg').decode(b) as unknown as { message: string }).message;
const replyTo = (id: number, message: string, extra: object = {}) => ({ reply: { command_id: id, client_action: { reply: { payload: msgAny(message) } }, ...extra } });
const commandFor = (entity: string, id: number) => ({ command: { entity_id: entity, id, name: 'Cmd', payload: { type_url: 'type.googleapis.com/c.Key', value: b64(key(entity)) } } });
const init = (entity: string, delta?: object) => ({ init: { service_name: 'c.Crdt', entity_id: entity, ...(delta ? { delta } : {}) } });

t.test('CRDT: the outstanding command fails "Entity terminating" (gRPC UNKNOWN, HTTP 500); others are served; the entity starts again', async (t) => {
  const { uf, streams } = await startCrdtUserFunction(t);
  const link = await startLink(uf.port);
  t.teardown(() => link.close());
  const { proxy, client } = await startTestProxy(t, link.port);
  const grpcCall = (entity: string) =>
    new Promise<{ text?: string; error?: grpc.ServiceError }>((resolve) =>
      client.makeUnaryRequest('/c.Crdt/Cmd', identity, identity, Buffer.from(key(entity)), (error, value) => resolve(error ? { error } : { text: text(value!) })),
    );
  const httpCall = async (entity: string) => {
    const response = await fetch(`http://127.0.0.1:${proxy.httpPort}/c.Crdt/Cmd`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: entity }) });
    return { status: response.status, body: await response.text() };
  };

  const first = grpcCall('a');
  const conn = await streams.next();
  t.same([await conn.expect(), await conn.expect()], [init('a'), commandFor('a', 1)]);
  conn.send(replyTo(1, 'one', { state_action: { update: { gcounter: { increment: 1 } } } }));
  t.same(await first, { text: 'one' });

  const interrupted = grpcCall('a');
  t.same(await conn.expect(), commandFor('a', 2), 'the user function has the command');
  link.cut();
  const { error } = await interrupted;
  t.same([error?.code, error?.details], [grpc.status.UNKNOWN, ENTITY_TERMINATING], 'gRPC: UNKNOWN, the CRDT entity failure');
  t.match(await uf.reported.next(), /^Entity crashed: /, 'the crash is reported to the user function, in the reference proxy’s words');

  const other = grpcCall('b');
  const connB = await streams.next();
  t.same([await connB.expect(), await connB.expect()], [init('b'), commandFor('b', 1)]);
  connB.send(replyTo(1, 'other'));
  t.same(await other, { text: 'other' }, 'another entity is served');

  const again = httpCall('a');
  const conn2 = await streams.next();
  t.same(await conn2.expect(), init('a', { gcounter: { increment: 1 } }), 'a new stream, initialised with the replicated state');
  t.same(await conn2.expect(), commandFor('a', 1), 'command ids start again');
  conn2.send(replyTo(1, 'two'));
  t.same(await again, { status: 200, body: '{"message":"two"}' }, 'the entity serves its next command');

  // The first command on a fresh stream: the user function never answered on it, but it had
  // accepted the connection, which broke: it crashed, it is not down.
  const fresh = httpCall('f');
  const connF = await streams.next();
  t.same([await connF.expect(), await connF.expect()], [init('f'), commandFor('f', 1)], 'the user function has the command');
  link.cut();
  t.same(await fresh, { status: 500, body: ENTITY_TERMINATING }, 'HTTP: 500 with the CRDT entity failure');
  const back = grpcCall('f');
  const connF2 = await streams.next();
  t.same([await connF2.expect(), await connF2.expect()], [init('f'), commandFor('f', 1)]);
  connF2.send(replyTo(1, 'back'));
  t.same(await back, { text: 'back' });
});
