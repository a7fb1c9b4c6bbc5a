import t from 'tap';
import type { JournalPlugin } from '../../../../src/persistence/index.js';
import { Status } from '../../../../src/proxy/dispatch.js';
import { anyOf, b64, key, msg, msgText, rejection } from './fake-user-function.js';
import { startNode } from './harness.js';
import type { Node } from './harness.js';

const keyUrl = 'type.googleapis.com/t.Key';
const bytes = (s: string) => new TextEncoder().encode(s);
const event = (s: string) => anyOf('t.Ev', bytes(s));
const replyTo = (id: number, text: string, extra: object = {}) => ({ reply: { command_id: id, client_action: { reply: { payload: anyOf('t.Msg', msg(text)) } }, ...extra } });
const commandFor = (entity: string, id: number, payload = key(entity)) => ({ command: { entity_id: entity, id, name: 'Cmd', payload: { type_url: keyUrl, value: b64(payload) } } });

/** The journal plugin's methods, bound, with `overrides` in place of some (to gate or fail them). */
const journalWith = (plugin: JournalPlugin, overrides: Partial<JournalPlugin>): JournalPlugin => ({
  capabilities: plugin.capabilities,
  writeBatch: plugin.writeBatch.bind(plugin),
  replay: plugin.replay.bind(plugin),
  highestSeqNr: plugin.highestSeqNr.bind(plugin),
  deleteTo: plugin.deleteTo.bind(plugin),
  close: plugin.close.bind(plugin),
  ...overrides,
});

async function stored(node: Node, persistenceId: string) {
  const out: { seqNr: number; manifest: string; payload: string; tags: readonly string[] }[] = [];
  for await (const e of node.storage.journal.replay(persistenceId)) out.push({ seqNr: e.seqNr, manifest: e.manifest, payload: new TextDecoder().decode(e.payload), tags: e.tags });
  return out;
}

t.test('a reply: init, command without metadata, events persisted before the answer, snapshot at the last event', async (t) => {
  let gate: (() => void) | undefined;
  const writing = new Promise<void>((entered) => {
    gate = entered;
  });
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let gated = true;
  const node = await startNode(t, {
    wrapJournal: (plugin) =>
      journalWith(plugin, {
        async writeBatch(writes) {
          if (gated) {
            gate?.();
            await released;
          }
          return plugin.writeBatch(writes);
        },
      }),
  });
  const call = node.call('/t.Es/Cmd', key('a'), [{ key: 'x-user', string_value: 'u' }]);
  const conn = await node.uf.eventSourced.next();
  t.same(await conn.expect(), { init: { service_name: 't.Es', entity_id: 'a' } }, 'init without snapshot for a new entity');
  t.same(await conn.expect(), commandFor('a', 1), 'command id 1, the payload as the Any of the input type, no metadata');
  conn.send(replyTo(1, 'one', { events: [event('e1'), event('e2')] }));
  let answered = false;
  void call.then(() => (answered = true));
  await writing;
  await new Promise((r) => setImmediate(r));
  t.notOk(answered, 'no answer while the events are being written');
  gated = false;
  release();
  const response = await call;
  t.equal(msgText(response.payload), 'one', 'the reply payload is the client message');
  t.same(await stored(node, 'es|a'), [
    { seqNr: 1, manifest: 'type.googleapis.com/t.Ev', payload: 'e1', tags: ['es'] },
    { seqNr: 2, manifest: 'type.googleapis.com/t.Ev', payload: 'e2', tags: ['es'] },
  ]);

  const second = node.call('/t.Es/Cmd', key('a'));
  t.same(await conn.expect(), commandFor('a', 2), 'the next command on the same stream has id 2');
  conn.send(replyTo(2, 'two', { events: [event('e3')], snapshot: anyOf('t.State', bytes('s3')) }));
  t.equal(msgText((await second).payload), 'two');
  const snapshot = await node.storage.snapshots.loadLatest('es|a');
  t.same(
    snapshot && { seqNr: snapshot.metadata.seqNr, manifest: snapshot.metadata.manifest, payload: new TextDecoder().decode(snapshot.payload) },
    { seqNr: 3, manifest: 'type.googleapis.com/t.State', payload: 's3' },
    'the snapshot is saved at the last event of the reply',
  );
  t.equal(node.uf.eventSourced.size, 0, 'one stream for the entity');
});

t.test('recovery: the latest snapshot in init, then the events after it, then the command', async (t) => {
  const node = await startNode(t);
  const write = (seqNr: number, payload: string) => ({ persistenceId: 'es|b', seqNr, payload: bytes(payload), manifest: 'type.googleapis.com/t.Ev', writerId: 'w', timestamp: 1, tags: [] });
  await node.storage.journal.append({ persistenceId: 'es|b', events: [write(1, 'b1'), write(2, 'b2'), write(3, 'b3')] });
  await node.storage.snapshots.save({ persistenceId: 'es|b', seqNr: 2, timestamp: 1, manifest: 'type.googleapis.com/t.State' }, bytes('s2'));
  const call = node.call('/t.Es/Cmd', key('b'));
  const conn = await node.uf.eventSourced.next();
  t.same(await conn.expect(), {
    init: { service_name: 't.Es', entity_id: 'b', snapshot: { snapshot_sequence: 2, snapshot: { type_url: 'type.googleapis.com/t.State', value: b64(bytes('s2')) } } },
  });
  t.same(await conn.expect(), { event: { sequence: 3, payload: { type_url: 'type.googleapis.com/t.Ev', value: b64(bytes('b3')) } } });
  t.same(await conn.expect(), commandFor('b', 1));
  conn.send(replyTo(1, 'ok', { events: [event('b4')] }));
  await call;
  t.same((await stored(node, 'es|b')).map((e) => e.seqNr), [1, 2, 3, 4], 'new events continue the sequence');
});

t.test('failure with restart: the client gets the description, the stream is closed, a new one gets init and replay at once', async (t) => {
  const node = await startNode(t);
  const first = node.call('/t.Es/Cmd', key('c'));
  const conn = await node.uf.eventSourced.next();
  await conn.expect();
  await conn.expect();
  conn.send(replyTo(1, 'ok', { events: [event('c1')] }));
  await first;
  const failing = node.call('/t.Es/Cmd', key('c'));
  t.same(await conn.expect(), commandFor('c', 2));
  conn.send({ reply: { command_id: 2, client_action: { failure: { command_id: 2, description: 'boom', restart: true } } } });
  const err = await rejection(failing);
  t.equal(err.status, Status.UNKNOWN);
  t.equal(err.message, 'boom', 'the failure description, as the client sees it');
  t.equal(await conn.closed, 'end', 'the proxy half-closes the old stream');
  const conn2 = await node.uf.eventSourced.next();
  t.same(await conn2.expect(), { init: { service_name: 't.Es', entity_id: 'c' } }, 'a new stream at once, before any command');
  t.same(await conn2.expect(), { event: { sequence: 1, payload: { type_url: 'type.googleapis.com/t.Ev', value: b64(bytes('c1')) } } });
  const next = node.call('/t.Es/Cmd', key('c'));
  t.same(await conn2.expect(), commandFor('c', 1), 'command ids start again at 1 on the new stream');
  conn2.send(replyTo(1, 'again'));
  t.equal(msgText((await next).payload), 'again');
});

t.test('failure without restart: the client gets the description, the entity goes on on the same stream', async (t) => {
  const node = await startNode(t);
  const failing = node.call('/t.Es/Cmd', key('d'));
  const conn = await node.uf.eventSourced.next();
  await conn.expect();
  await conn.expect();
  conn.send({ reply: { command_id: 1, client_action: { failure: { command_id: 1, description: 'expected failure' } } } });
  t.equal((await rejection(failing)).message, 'expected failure');
  const next = node.call('/t.Es/Cmd', key('d'));
  t.same(await conn.expect(), commandFor('d', 2));
  conn.send(replyTo(2, 'fine'));
  t.equal(msgText((await next).payload), 'fine');
});

t.test('crashes: a stream failure, a wrong command id, a broken stream; each entity recovers on its next command', async (t) => {
  const node = await startNode(t);
  const cases: { entity: string; act: (conn: Awaited<ReturnType<typeof node.uf.eventSourced.next>>) => void; description: string }[] = [
    { entity: 'f1', act: (c) => c.send({ failure: { command_id: 1, description: 'boom plus details' } }), description: 'Unexpected entity failure' },
    { entity: 'f2', act: (c) => c.send(replyTo(7, 'wrong id')), description: 'Unexpected entity failure' },
    { entity: 'f3', act: (c) => c.end(), description: 'Unexpected entity termination' },
  ];
  for (const { entity, act, description } of cases) {
    const call = node.call('/t.Es/Cmd', key(entity));
    const conn = await node.uf.eventSourced.next();
    await conn.expect();
    await conn.expect();
    act(conn);
    const err = await rejection(call);
    t.same([err.status, err.message], [Status.UNKNOWN, description], `${entity}: ${description}`);
    const again = node.call('/t.Es/Cmd', key(entity));
    const conn2 = await node.uf.eventSourced.next();
    t.same(await conn2.expect(), { init: { service_name: 't.Es', entity_id: entity } }, `${entity}: a new stream, initialised`);
    t.same(await conn2.expect(), commandFor(entity, 1));
    conn2.send(replyTo(1, 'back'));
    t.equal(msgText((await again).payload), 'back', `${entity}: answers again`);
  }
});

t.test('passivation: after the discovered timeout the proxy half-closes the stream; the next command recovers', async (t) => {
  const node = await startNode(t);
  const call = node.call('/t.EsFast/Cmd', key('p'));
  const conn = await node.uf.eventSourced.next();
  await conn.expect();
  await conn.expect();
  conn.send(replyTo(1, 'ok', { events: [event('p1')] }));
  await call;
  const started = Date.now();
  t.equal(await conn.closed, 'end', 'the stream is half-closed by the proxy');
  t.ok(Date.now() - started < 2000, 'within 2 s of a 100 ms timeout');
  const again = node.call('/t.EsFast/Cmd', key('p'));
  const conn2 = await node.uf.eventSourced.next();
  t.same(await conn2.expect(), { init: { service_name: 't.EsFast', entity_id: 'p' } });
  t.same((await conn2.expect()).event, { sequence: 1, payload: { type_url: 'type.googleapis.com/t.Ev', value: b64(bytes('p1')) } });
  await conn2.expect();
  conn2.send(replyTo(1, 'ok'));
  await again;
});

t.test('a user function that is down: UNAVAILABLE for entity and action calls', async (t) => {
  const node = await startNode(t);
  node.uf.stop();
  const err = await rejection(node.call('/t.Es/Cmd', key('u')));
  t.equal(err.status, Status.UNAVAILABLE, `entity call: ${err.message}`);
  t.match(err.message, /unavailable/);
  const action = await rejection(node.call('/t.Act/Unary', msg('x')));
  t.equal(action.status, Status.UNAVAILABLE, 'action call too');
});

t.test('a command the user function does not answer in time: DEADLINE_EXCEEDED, and the entity starts afresh', async (t) => {
  const node = await startNode(t, { settings: { relayTimeoutMs: 300 } });
  const call = node.call('/t.Es/Cmd', key('slow'));
  const conn = await node.uf.eventSourced.next();
  await conn.expect();
  await conn.expect();
  const err = await rejection(call);
  t.equal(err.status, Status.DEADLINE_EXCEEDED, err.message);
  t.equal(await conn.closed, 'end', 'the stream is closed');
  const again = node.call('/t.Es/Cmd', key('slow'));
  const conn2 = await node.uf.eventSourced.next();
  t.same(await conn2.expect(), { init: { service_name: 't.Es', entity_id: 'slow' } });
  t.same(await conn2.expect(), commandFor('slow', 1));
  conn2.send(replyTo(1, 'late but fine'));
  t.equal(msgText((await again).payload), 'late but fine');
});

t.test('events that cannot be stored: "Unexpected entity failure", nothing stored, and the entity recovers from the journal', async (t) => {
  let failNext = false;
  const node = await startNode(t, {
    wrapJournal: (plugin) =>
      journalWith(plugin, {
        writeBatch(writes) {
          if (failNext) {
            failNext = false;
            return Promise.reject(new Error('disk on fire'));
          }
          return plugin.writeBatch(writes);
        },
      }),
  });
  const first = node.call('/t.Es/Cmd', key('j'));
  const conn = await node.uf.eventSourced.next();
  await conn.expect();
  await conn.expect();
  conn.send(replyTo(1, 'ok', { events: [event('j1')] }));
  await first;
  failNext = true;
  const failing = node.call('/t.Es/Cmd', key('j'));
  await conn.expect();
  conn.send(replyTo(2, 'lost', { events: [event('j2')] }));
  const err = await rejection(failing);
  t.same([err.status, err.message], [Status.UNKNOWN, 'Unexpected entity failure']);
  t.equal(await conn.closed, 'end', 'the stream is closed');
  const next = node.call('/t.Es/Cmd', key('j'));
  const conn2 = await node.uf.eventSourced.next();
  t.same(await conn2.expect(), { init: { service_name: 't.Es', entity_id: 'j' } });
  t.same(await conn2.expect(), { event: { sequence: 1, payload: { type_url: 'type.googleapis.com/t.Ev', value: b64(bytes('j1')) } } }, 'only the stored event is replayed');
  t.same(await conn2.expect(), commandFor('j', 1));
  conn2.send(replyTo(1, 'ok', { events: [event('j2')] }));
  await next;
  t.same((await stored(node, 'es|j')).map((e) => `${e.seqNr}:${e.payload}`), ['1:j1', '2:j2']);
});

t.test('a journal that cannot be read: "Error recovering event log", on the first start and on a recovery after a crash; the next command recovers', async (t) => {
  let failReads = false;
  const node = await startNode(t, {
    wrapJournal: (plugin) =>
      journalWith(plugin, {
        highestSeqNr: (persistenceId) => (failReads ? Promise.reject(new Error('journal unreachable')) : plugin.highestSeqNr(persistenceId)),
      }),
  });
  failReads = true;
  const err = await rejection(node.call('/t.Es/Cmd', key('r')));
  t.same([err.status, err.message], [Status.UNKNOWN, 'Error recovering event log'], 'first start');
  t.equal(node.uf.eventSourced.size, 0, 'no stream was opened');
  failReads = false;
  const first = node.call('/t.Es/Cmd', key('r'));
  const conn = await node.uf.eventSourced.next();
  t.same(await conn.expect(), { init: { service_name: 't.Es', entity_id: 'r' } });
  t.same(await conn.expect(), commandFor('r', 1));
  conn.send(replyTo(1, 'ok', { events: [event('r1')] }));
  await first;

  const crashing = node.call('/t.Es/Cmd', key('r'));
  await conn.expect();
  conn.end();
  t.equal((await rejection(crashing)).message, 'Unexpected entity termination');
  failReads = true;
  const err2 = await rejection(node.call('/t.Es/Cmd', key('r')));
  t.same([err2.status, err2.message], [Status.UNKNOWN, 'Error recovering event log'], 'recovery after a crash');
  failReads = false;
  const again = node.call('/t.Es/Cmd', key('r'));
  const conn2 = await node.uf.eventSourced.next();
  t.same(await conn2.expect(), { init: { service_name: 't.Es', entity_id: 'r' } });
  t.same(await conn2.expect(), { event: { sequence: 1, payload: { type_url: 'type.googleapis.com/t.Ev', value: b64(bytes('r1')) } } });
  t.same(await conn2.expect(), commandFor('r', 1));
  conn2.send(replyTo(1, 'recovered'));
  t.equal(msgText((await again).payload), 'recovered');
});
