// The proxy end to end with a CRDT user function: discovery advertises Crdt, gRPC calls reach
// the CRDT entity, a server-streaming call streams, and a client cancel reaches the user function.
import t from 'tap';
import { EntityType } from '../../../../src/protocol/index.js';
import { Inbox } from '../entities/fake-user-function.js';
import { startTestProxy } from '../test-proxy.js';
import { crdtModel, key, msgAny, startCrdtUserFunction } from './harness.js';

const identity = (b: Buffer) => b;
const text = (b: Buffer) => (crdtModel().root.lookupType('c.Msg').decode(b) as unknown as { message: string }).message;
const replyTo = (id: number, message: string, extra: object = {}) => ({ reply: { command_id: id, client_action: { reply: { payload: msgAny(message) } }, ...extra } });

t.test('a proxy serves CRDT services over gRPC: unary, streamed, cancelled', async (t) => {
  const { uf, streams } = await startCrdtUserFunction(t);
  const { client } = await startTestProxy(t, uf.port);
  const info = await uf.discoveries.next();
  t.ok((info.supported_entity_types as string[]).includes(EntityType.crdt), 'discovery advertises Crdt');

  const unary = new Promise<Buffer>((resolve, reject) =>
    client.makeUnaryRequest('/c.Crdt/Cmd', identity, identity, Buffer.from(key('e')), (err, value) => (err || !value ? reject(err) : resolve(value))),
  );
  const conn = await streams.next();
  t.same(await conn.expect(), { init: { service_name: 'c.Crdt', entity_id: 'e' } });
  await conn.expect();
  conn.send(replyTo(1, 'one', { state_action: { update: { gcounter: { increment: 1 } } } }));
  t.equal(text(await unary), 'one');

  const call = client.makeServerStreamRequest('/c.Crdt/Watch', identity, identity, Buffer.from(key('e')));
  const messages = new Inbox<Buffer>();
  call.on('data', (b: Buffer) => messages.push(b));
  call.on('error', () => undefined);
  t.match(await conn.expect(), { command: { id: 2, name: 'Watch', streamed: true } });
  conn.send(replyTo(2, 'watching', { streamed: true }));
  t.equal(text(await messages.next()), 'watching');
  conn.send({ streamed_message: { command_id: 2, client_action: { reply: { payload: msgAny('tick') } } } });
  t.equal(text(await messages.next()), 'tick');
  call.cancel();
  t.same(await conn.expect(), { stream_cancelled: { entity_id: 'e', id: 2 } }, 'the client’s cancel reaches the user function');
  conn.send({ stream_cancelled_response: { command_id: 2 } });

  t.equal(uf.reported.size, 0, 'nothing was reported to the user function');
});
