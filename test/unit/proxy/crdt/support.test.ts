import t from 'tap';
import { GCounter, ORSet, PNCounter } from '../../../../src/crdt/index.js';
import { Status } from '../../../../src/proxy/dispatch.js';
import { ENTITY_DELETED, ENTITY_TERMINATING, WRITE_FAILED } from '../../../../src/proxy/crdt/index.js';
import { elementOf } from '../../../../src/proxy/crdt/wire.js';
import type { UserFunctionReply } from '../../../../src/proxy/entities/messages.js';
import { UserFunctionCallError } from '../../../../src/proxy/user-function.js';
import { b64, FakeUserFunction } from '../entities/fake-user-function.js';
import type { Connection } from '../entities/fake-user-function.js';
import { key, keyAny, msgAny, msgText, startCrdtNode } from './harness.js';

const replyTo = (id: number, text: string, extra: object = {}) => ({ reply: { command_id: id, client_action: { reply: { payload: msgAny(text) } }, ...extra } });
const command = (entity: string, id: number, name = 'Cmd', streamed = false) => ({
  command: { entity_id: entity, id, name, payload: { type_url: 'type.googleapis.com/c.Key', value: b64(key(entity)) }, ...(streamed ? { streamed: true } : {}) },
});
const failureOf = (r: UserFunctionReply) => r.client_action?.failure?.description;
const elementAny = (s: string) => ({ type_url: 'type.googleapis.com/t.S', value: new TextEncoder().encode(s) });
const plainAny = (s: string) => ({ type_url: 'type.googleapis.com/t.S', value: b64(new TextEncoder().encode(s)) });

/** Collects a streamed call's replies into an inbox-like queue. */
function consume(iterable: AsyncIterable<UserFunctionReply>) {
  const got: UserFunctionReply[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  const done = (async () => {
    for await (const r of iterable) {
      got.push(r);
      wake?.();
    }
    finished = true;
    wake?.();
  })();
  return {
    done,
    get finished() {
      return finished;
    },
    async next(): Promise<UserFunctionReply> {
      while (got.length === 0) {
        if (finished) throw new Error('the stream ended');
        await new Promise<void>((r) => (wake = r));
      }
      return got.shift()!;
    },
  };
}

t.test('init, commands without metadata, updates replicated, changes pushed between commands only', async (t) => {
  const node = await startCrdtNode(t);
  const first = node.call('/c.Crdt/Cmd', 'e');
  const conn = await node.streams.next();
  t.same(await conn.expect(), { init: { service_name: 'c.Crdt', entity_id: 'e' } }, 'init without a delta: no state yet');
  t.same(await conn.expect(), command('e', 1), 'streamed false, no metadata');
  conn.send(replyTo(1, 'one', { state_action: { update: { gcounter: { increment: 3 } } } }));
  t.equal(msgText(await first), 'one');
  t.equal(node.replicator.getLocal<GCounter>('crdt-e')?.value, 3, 'the update is in the replicator under persistence_id-entity_id');

  // Idle: a change from elsewhere is pushed as a delta.
  await node.replicator.update('crdt-e', GCounter.empty, (c) => c.increment('elsewhere', 5));
  t.same(await conn.expect(), { delta: { gcounter: { increment: 5 } } }, 'a replicated change, diffed to a delta');

  // Busy: held back until the command is answered.
  const second = node.call('/c.Crdt/Cmd', 'e');
  t.same(await conn.expect(), command('e', 2));
  await node.replicator.update('crdt-e', GCounter.empty, (c) => c.increment('elsewhere', 2));
  conn.send(replyTo(2, 'two', { state_action: { update: { gcounter: { increment: 10 } }, write_consistency: 1 } }));
  t.equal(msgText(await second), 'two', 'a majority write on one node completes');
  t.same(await conn.expect(), { delta: { gcounter: { increment: 2 } } }, 'the held-back change follows the reply, without the function’s own update');
  t.equal(node.replicator.getLocal<GCounter>('crdt-e')?.value, 20);
  t.equal(conn.received.size, 0, 'nothing else was sent');

  // Out-of-order replies are matched by id.
  const third = node.call('/c.Crdt/Cmd', 'e');
  const fourth = node.call('/c.Crdt/Cmd', 'e');
  t.same(await conn.expect(), command('e', 3));
  t.same(await conn.expect(), command('e', 4));
  conn.send(replyTo(4, 'four', { state_action: { update: { gcounter: { increment: 1 } }, write_consistency: 2 } }));
  conn.send(replyTo(3, 'three'));
  t.same([msgText(await third), msgText(await fourth)], ['three', 'four']);
  t.equal(node.replicator.getLocal<GCounter>('crdt-e')?.value, 21, 'an all write on one node completes');

  // Another entity starts from the state already replicated.
  await node.replicator.update('crdt-s', ORSet.empty, (s) => s.add('elsewhere', elementOf(elementAny('a'))));
  const other = node.call('/c.Crdt/Cmd', 's');
  const conn2 = await node.streams.next();
  t.same(await conn2.expect(), { init: { service_name: 'c.Crdt', entity_id: 's', delta: { orset: { added: [plainAny('a')] } } } }, 'init carries the state as a delta');
  t.same(await conn2.expect(), command('s', 1), 'command ids count per stream');
  conn2.send(replyTo(1, 'ok', { state_action: { update: { orset: { removed: [elementAny('a')], added: [elementAny('b')] } } } }));
  await other;
  t.same([...node.replicator.getLocal<ORSet>('crdt-s')!.elements], [elementOf(elementAny('b'))]);
});

t.test('delete: from a reply, and replicated in', async (t) => {
  const node = await startCrdtNode(t);
  const first = node.call('/c.Crdt/Cmd', 'd');
  const conn = await node.streams.next();
  await conn.expect();
  await conn.expect();
  conn.send(replyTo(1, 'made', { state_action: { update: { pncounter: { change: -2 } } } }));
  await first;
  const deleting = node.call('/c.Crdt/Cmd', 'd');
  t.same(await conn.expect(), command('d', 2));
  conn.send(replyTo(2, 'deleted', { state_action: { delete: {} } }));
  t.equal(msgText(await deleting), 'deleted', 'the delete command is answered');
  t.equal(await conn.closed, 'end', 'the stream is closed');
  conn.end();
  t.ok(node.replicator.isDeleted('crdt-d'), 'the CRDT is deleted');
  t.equal(failureOf(await node.call('/c.Crdt/Cmd', 'd')), ENTITY_DELETED, 'later commands fail');
  t.equal(node.streams.size, 0, 'without a new stream');

  const live = node.call('/c.Crdt/Cmd', 'r');
  const conn2 = await node.streams.next();
  await conn2.expect();
  await conn2.expect();
  conn2.send(replyTo(1, 'made', { state_action: { update: { pncounter: { change: 1 } } } }));
  await live;
  await node.replicator.delete('crdt-r');
  t.same(await conn2.expect(), { delete: {} }, 'a delete replicated in is sent to the stream');
  t.equal(await conn2.closed, 'end', 'then the stream is closed');
  conn2.end();
  t.equal(failureOf(await node.call('/c.Crdt/Cmd', 'r')), ENTITY_DELETED);
});

t.test('streamed commands: replies, streamed messages, end_stream, cancellation with its response', async (t) => {
  const node = await startCrdtNode(t);
  const watch = consume(node.support.streamed(node.method('/c.Crdt/Watch'), keyAny('w'), new AbortController().signal));
  const conn = await node.streams.next();
  await conn.expect();
  t.same(await conn.expect(), command('w', 1, 'Watch', true), 'a server-streaming method is a streamed command');
  conn.send(replyTo(1, 'first', { streamed: true, state_action: { update: { gcounter: { increment: 1 } } } }));
  t.equal(msgText(await watch.next()), 'first', 'the reply is the first message');
  await node.replicator.update('crdt-w', GCounter.empty, (c) => c.increment('elsewhere', 4));
  t.same(await conn.expect(), { delta: { gcounter: { increment: 4 } } }, 'the stream keeps the entity subscribed: changes come while idle');
  conn.send({ streamed_message: { command_id: 1, client_action: { reply: { payload: msgAny('changed') } } } });
  t.equal(msgText(await watch.next()), 'changed');
  conn.send({ streamed_message: { command_id: 1, client_action: { reply: { payload: msgAny('last') } }, end_stream: true } });
  t.equal(msgText(await watch.next()), 'last');
  await watch.done;
  t.ok(watch.finished, 'end_stream completes the call');

  const abort = new AbortController();
  const second = consume(node.support.streamed(node.method('/c.Crdt/Watch'), keyAny('w'), abort.signal));
  t.same(await conn.expect(), command('w', 2, 'Watch', true));
  conn.send({ reply: { command_id: 2, streamed: true } });
  await node.replicator.update('crdt-w', GCounter.empty, (c) => c.increment('elsewhere', 1));
  t.same(await conn.expect(), { delta: { gcounter: { increment: 1 } } }, 'a reply without a client action keeps the call open and the entity idle');
  abort.abort();
  await second.done;
  t.same(await conn.expect(), { stream_cancelled: { entity_id: 'w', id: 2 } }, 'the client cancel reaches the user function');
  await node.replicator.update('crdt-w', GCounter.empty, (c) => c.increment('elsewhere', 100));
  conn.send({
    stream_cancelled_response: {
      command_id: 2,
      side_effects: [{ service_name: 'c.Two', command_name: 'Call', payload: keyAny('x') }],
      state_action: { update: { gcounter: { increment: 42 } } },
    },
  });
  const effects = await node.detached.next();
  t.same(effects.side_effects?.map((e) => e.service_name), ['c.Two'], 'its side effects are routed');
  t.same(await conn.expect(), { delta: { gcounter: { increment: 100 } } }, 'the change held back during the cancellation follows');
  t.equal(node.replicator.getLocal<GCounter>('crdt-w')?.value, 148, 'its state action is applied');

  // Cancelled before the first reply: the cancellation follows a reply that keeps the call open.
  const early = new AbortController();
  const third = consume(node.support.streamed(node.method('/c.Crdt/Watch'), keyAny('w'), early.signal));
  t.same(await conn.expect(), command('w', 3, 'Watch', true));
  early.abort();
  await third.done;
  conn.send({ reply: { command_id: 3, streamed: true } });
  t.same(await conn.expect(), { stream_cancelled: { entity_id: 'w', id: 3 } });
  conn.send({ stream_cancelled_response: { command_id: 3 } });

  conn.send({ streamed_message: { command_id: 99, end_stream: true } });
  t.equal(await node.uf.reported.next(), 'Received streamed message for unknown command id: 99', 'a message for no streamed call is reported');
});

t.test('passivation: after the discovered timeout; not while a streamed call is active', async (t) => {
  const node = await startCrdtNode(t, { settings: { passivationTimeoutMs: 150 } });
  const first = node.call('/c.CrdtFast/Cmd', 'p');
  const conn = await node.streams.next();
  await conn.expect();
  await conn.expect();
  conn.send(replyTo(1, 'one', { state_action: { update: { pncounter: { change: 7 } } } }));
  await first;
  t.equal(await conn.closed, 'end', 'the idle entity is passivated: its stream half-closed (100 ms from discovery)');
  conn.end();
  t.equal(node.support.size, 0);
  const again = node.call('/c.CrdtFast/Cmd', 'p');
  const conn2 = await node.streams.next();
  t.same(await conn2.expect(), { init: { service_name: 'c.CrdtFast', entity_id: 'p', delta: { pncounter: { change: 7 } } } }, 'a new instance starts from the replicated state');
  t.same(await conn2.expect(), command('p', 1));
  conn2.send(replyTo(1, 'two'));
  await again;

  const abort = new AbortController();
  const watch = consume(node.support.streamed(node.method('/c.Crdt/Watch'), keyAny('q'), abort.signal));
  const conn3 = await node.streams.next();
  await conn3.expect();
  await conn3.expect();
  conn3.send({ reply: { command_id: 1, streamed: true } });
  const closedEarly = await Promise.race([conn3.closed, new Promise((r) => setTimeout(() => r('open'), 600))]);
  t.equal(closedEarly, 'open', 'an entity with an active streamed call is not passivated (four timeouts passed)');
  abort.abort();
  await watch.done;
  t.same(await conn3.expect(), { stream_cancelled: { entity_id: 'q', id: 1 } });
  conn3.send({ stream_cancelled_response: { command_id: 1 } });
  t.equal(await conn3.closed, 'end', 'passivated once the call ended');
  conn3.end();
});

t.test('incompatible deltas and protocol errors crash the entity and are reported', async (t) => {
  const node = await startCrdtNode(t);
  const crashes: [string, object, RegExp][] = [
    ['a PNCounter delta for a GCounter', { update: { pncounter: { change: 1 } } }, /PNCounter delta is incompatible with the CRDT, a gcounter/],
    ['a negative GCounter increment', { update: { gcounter: { increment: '18446744073709551615' } } }, /cannot decrement a GCounter/],
  ];
  const first = node.call('/c.Crdt/Cmd', 'x');
  let conn: Connection = await node.streams.next();
  await conn.expect();
  await conn.expect();
  conn.send(replyTo(1, 'made', { state_action: { update: { gcounter: { increment: 1 } } } }));
  await first;
  for (const [name, action, reported] of crashes) {
    const call = node.call('/c.Crdt/Cmd', 'x');
    const c = await conn.expect();
    const id = (c.command as { id: number }).id;
    conn.send(replyTo(id, 'never', { state_action: action }));
    t.equal(failureOf(await call), ENTITY_TERMINATING, `${name}: the command fails`);
    t.match(await node.uf.reported.next(), reported, `${name}: reported to the user function`);
    t.equal(await conn.closed, 'end', `${name}: the stream is closed`);
    conn.end();
    const next = node.call('/c.Crdt/Cmd', 'x');
    conn = await node.streams.next();
    t.same(await conn.expect(), { init: { service_name: 'c.Crdt', entity_id: 'x', delta: { gcounter: { increment: 1 } } } }, `${name}: the next command starts a new instance, state unchanged`);
    t.same(await conn.expect(), command('x', 1));
    conn.send(replyTo(1, 'fine'));
    t.equal(msgText(await next), 'fine');
  }
  const call = node.call('/c.Crdt/Cmd', 'x');
  await conn.expect();
  conn.send(replyTo(77, 'stray'));
  t.equal(failureOf(await call), ENTITY_TERMINATING, 'a reply to an unknown command crashes the entity');
  t.match(await node.uf.reported.next(), /unknown command 77/);

  const flag = node.call('/c.Crdt/Cmd', 'f');
  const fconn = await node.streams.next();
  await fconn.expect();
  await fconn.expect();
  fconn.send(replyTo(1, 'on', { state_action: { update: { flag: { value: true } } } }));
  await flag;
  const off = node.call('/c.Crdt/Cmd', 'f');
  await fconn.expect();
  fconn.send(replyTo(2, 'off', { state_action: { update: { flag: { value: false } } } }));
  t.equal(failureOf(await off), ENTITY_TERMINATING, 'switching a Flag off crashes the entity');
  t.match(await node.uf.reported.next(), /cannot switch off a Flag/);
  t.ok(node.replicator.getLocal<PNCounter>('crdt-f'), 'the flag stays as it was');
});

t.test('a command the user function does not answer within the relay timeout crashes the entity', async (t) => {
  const node = await startCrdtNode(t, { settings: { relayTimeoutMs: 200 } });
  const call = node.call('/c.Crdt/Cmd', 'slow');
  const conn = await node.streams.next();
  await conn.expect();
  t.same(await conn.expect(), command('slow', 1));
  t.equal(failureOf(await call), ENTITY_TERMINATING, 'the command fails');
  t.match(await node.uf.reported.next(), /no answer to command 1 \(Cmd\) within 200 ms/, 'reported');
  t.equal(await conn.closed, 'end', 'the stream is closed');
  conn.end();
  const next = node.call('/c.Crdt/Cmd', 'slow');
  const conn2 = await node.streams.next();
  await conn2.expect();
  await conn2.expect();
  conn2.send(replyTo(1, 'quick'));
  t.equal(msgText(await next), 'quick', 'the next command gets a new instance');
});

t.test('a stream-level failure fails just the command it names, with the reference proxy’s text; the entity goes on on its stream', async (t) => {
  const node = await startCrdtNode(t);
  const first = node.call('/c.Crdt/Cmd', 'sf');
  const conn = await node.streams.next();
  await conn.expect();
  await conn.expect();
  conn.send(replyTo(1, 'one', { state_action: { update: { gcounter: { increment: 1 } } } }));
  await first;

  const failing = node.call('/c.Crdt/Cmd', 'sf');
  const beside = node.call('/c.Crdt/Cmd', 'sf');
  t.same(await conn.expect(), command('sf', 2));
  t.same(await conn.expect(), command('sf', 3));
  conn.send({ failure: { command_id: 2, description: 'boom' } });
  t.equal(failureOf(await failing), WRITE_FAILED, 'the command named fails (the reference proxy’s failCommand text, not the description)');
  conn.send(replyTo(3, 'three'));
  t.equal(msgText(await beside), 'three', 'the command outstanding beside it is answered');
  await node.replicator.update('crdt-sf', GCounter.empty, (c) => c.increment('elsewhere', 5));
  t.same(await conn.expect(), { delta: { gcounter: { increment: 5 } } }, 'the failed command is no longer outstanding: the idle entity gets changes');

  conn.send({ failure: { description: 'for no command' } });
  const next = node.call('/c.Crdt/Cmd', 'sf');
  t.same(await conn.expect(), command('sf', 4), 'a failure for command 0 is ignored: the next command goes to the same stream');
  conn.send(replyTo(4, 'four'));
  t.equal(msgText(await next), 'four');

  const watch = consume(node.support.streamed(node.method('/c.Crdt/Watch'), keyAny('sf'), new AbortController().signal));
  t.same(await conn.expect(), command('sf', 5, 'Watch', true));
  conn.send(replyTo(5, 'watching', { streamed: true }));
  t.equal(msgText(await watch.next()), 'watching');
  conn.send({ failure: { command_id: 5, description: 'stream boom' } });
  t.equal(failureOf(await watch.next()), WRITE_FAILED, 'a streamed call gets the failure');
  await watch.done;
  t.ok(watch.finished, 'and ends');

  const last = node.call('/c.Crdt/Cmd', 'sf');
  t.same(await conn.expect(), command('sf', 6), 'still the same stream, without a re-init');
  conn.send(replyTo(6, 'six'));
  t.equal(msgText(await last), 'six');
  t.equal(node.streams.size, 0, 'no other stream was opened');
  t.equal(node.uf.reported.size, 0, 'nothing was reported');
});

t.test('a user function that cannot be reached at all: the command fails UNAVAILABLE (an outage, not an entity failure)', async (t) => {
  const gone = await new FakeUserFunction().start();
  gone.stop();
  const node = await startCrdtNode(t, { userFunctionPort: gone.port });
  const error = await node.call('/c.Crdt/Cmd', 'u').then(
    () => undefined,
    (err: unknown) => err,
  );
  t.ok(error instanceof UserFunctionCallError, 'the call is rejected with the channel’s error');
  t.equal((error as UserFunctionCallError).grpcCode, Status.UNAVAILABLE);
  t.equal(node.support.size, 0, 'the instance is gone: the next command starts afresh');
});
