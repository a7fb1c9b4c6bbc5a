import t from 'tap';
import { Status } from '../../../../src/proxy/dispatch.js';
import { anyOf, b64, key, msg, msgText, rejection } from './fake-user-function.js';
import { startNode } from './harness.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const state = (s: string) => anyOf('t.State', bytes(s));
const replyTo = (id: number, text: string, stateAction?: object) => ({
  reply: { command_id: id, client_action: { reply: { payload: anyOf('t.Msg', msg(text)) } }, ...(stateAction ? { state_action: stateAction } : {}) },
});
const commandFor = (entity: string, id: number) => ({ command: { entity_id: entity, id, name: 'Cmd', payload: { type_url: 'type.googleapis.com/t.Key', value: b64(key(entity)) } } });

t.test('init with an empty state, updates and deletes stored, the state read again after a crash', async (t) => {
  const node = await startNode(t);
  const kv = node.plugin.keyValueStore;
  const first = node.call('/t.Ve/Cmd', key('v'));
  const conn = await node.uf.valueEntity.next();
  t.same(await conn.expect(), { init: { service_name: 't.Ve', entity_id: 'v', state: {} } }, 'state is sent, empty, when nothing is stored');
  t.same(await conn.expect(), commandFor('v', 1), 'no metadata on entity commands');
  conn.send(replyTo(1, 'updated', { update: { value: state('A') } }));
  t.equal(msgText((await first).payload), 'updated');
  const stored = await kv.get('ve|v');
  t.same(stored && { manifest: stored.manifest, payload: new TextDecoder().decode(stored.payload) }, { manifest: 'type.googleapis.com/t.State', payload: 'A' }, 'stored under persistence_id|entity_id, type_url as the manifest');

  const second = node.call('/t.Ve/Cmd', key('v'));
  t.same(await conn.expect(), commandFor('v', 2));
  conn.send(replyTo(2, 'again', { update: { value: state('B') } }));
  await second;
  t.equal(new TextDecoder().decode((await kv.get('ve|v'))!.payload), 'B', 'an update replaces the state');

  // A failure, even with restart, leaves the stream as it is (as in the reference proxy).
  const failing = node.call('/t.Ve/Cmd', key('v'));
  t.same(await conn.expect(), commandFor('v', 3));
  conn.send({ reply: { command_id: 3, client_action: { failure: { command_id: 3, description: 'expected failure', restart: true } } } });
  t.equal((await rejection(failing)).message, 'expected failure');
  // A crash does restart it, and the state is read back.
  const crashing = node.call('/t.Ve/Cmd', key('v'));
  t.same(await conn.expect(), commandFor('v', 4), 'the same stream goes on after a failure');
  conn.send({ failure: { command_id: 4, description: 'boom' } });
  t.equal((await rejection(crashing)).message, 'Unexpected Value entity failure');
  const third = node.call('/t.Ve/Cmd', key('v'));
  const conn2 = await node.uf.valueEntity.next();
  t.same(await conn2.expect(), { init: { service_name: 't.Ve', entity_id: 'v', state: { value: { type_url: 'type.googleapis.com/t.State', value: b64(bytes('B')) } } } });
  t.same(await conn2.expect(), commandFor('v', 1));
  conn2.send(replyTo(1, 'deleted', { delete: {} }));
  await third;
  t.equal(await kv.get('ve|v'), undefined, 'a delete removes the state');
});

t.test('a store failure fails the command with "Unexpected Value entity failure"; the entity re-reads its state next time', async (t) => {
  const node = await startNode(t);
  const kv = node.plugin.keyValueStore;
  const call = node.call('/t.Ve/Cmd', key('w'));
  const conn = await node.uf.valueEntity.next();
  await conn.expect();
  await conn.expect();
  const upsert = kv.upsert.bind(kv);
  kv.upsert = () => Promise.reject(new Error('disk full'));
  t.teardown(() => {
    kv.upsert = upsert;
  });
  conn.send(replyTo(1, 'never', { update: { value: state('X') } }));
  const err = await rejection(call);
  t.same([err.status, err.message], [Status.UNKNOWN, 'Unexpected Value entity failure']);
  t.equal(await conn.closed, 'end', 'the stream is closed');
  kv.upsert = upsert;
  const next = node.call('/t.Ve/Cmd', key('w'));
  const conn2 = await node.uf.valueEntity.next();
  t.same(await conn2.expect(), { init: { service_name: 't.Ve', entity_id: 'w', state: {} } }, 'nothing was stored');
  await conn2.expect();
  conn2.send(replyTo(1, 'ok', { update: { value: state('Y') } }));
  await next;
  t.equal(new TextDecoder().decode((await kv.get('ve|w'))!.payload), 'Y');
});

t.test('stream failures of value entities say "Value entity"', async (t) => {
  const node = await startNode(t);
  const call = node.call('/t.Ve/Cmd', key('z'));
  const conn = await node.uf.valueEntity.next();
  await conn.expect();
  await conn.expect();
  conn.send({ failure: { command_id: 1, description: 'boom' } });
  t.equal((await rejection(call)).message, 'Unexpected Value entity failure');
  const second = node.call('/t.Ve/Cmd', key('z'));
  const conn2 = await node.uf.valueEntity.next();
  await conn2.expect();
  await conn2.expect();
  conn2.end();
  t.equal((await rejection(second)).message, 'Unexpected Value entity termination');
});

t.test('a state that cannot be read: "Unexpected Value entity failure" (the reference value entity crashes); the next command reads it again', async (t) => {
  const node = await startNode(t);
  const kv = node.plugin.keyValueStore;
  const get = kv.get.bind(kv);
  kv.get = () => Promise.reject(new Error('store unreachable'));
  t.teardown(() => {
    kv.get = get;
  });
  const err = await rejection(node.call('/t.Ve/Cmd', key('r')));
  t.same([err.status, err.message], [Status.UNKNOWN, 'Unexpected Value entity failure']);
  kv.get = get;
  const next = node.call('/t.Ve/Cmd', key('r'));
  const conn = await node.uf.valueEntity.next();
  t.same(await conn.expect(), { init: { service_name: 't.Ve', entity_id: 'r', state: {} } });
  t.same(await conn.expect(), commandFor('r', 1));
  conn.send(replyTo(1, 'read'));
  t.equal(msgText((await next).payload), 'read');
});
