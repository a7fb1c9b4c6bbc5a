import t from 'tap';
import type { GCounter } from '../../../../src/crdt/index.js';
import { WRITE_FAILED } from '../../../../src/proxy/crdt/index.js';
import type { Connection } from '../entities/fake-user-function.js';
import { key, msgAny, msgText, startCrdtNode } from './harness.js';
import type { CrdtNode } from './harness.js';

const replyTo = (id: number, text: string, extra: object = {}) => ({ reply: { command_id: id, client_action: { reply: { payload: msgAny(text) } }, ...extra } });

/** Opens entity `id` on `node` with a first command that changes nothing; returns its stream. */
async function open(node: CrdtNode, id: string): Promise<Connection> {
  const call = node.call('/c.Crdt/Cmd', id);
  const conn = await node.streams.next();
  await conn.expect();
  await conn.expect();
  conn.send(replyTo(1, 'opened'));
  await call;
  return conn;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('two nodes: updates reach the other node’s user function as deltas, between its commands; deletes too', async (t) => {
  const a = await startCrdtNode(t, { settings: { writeTimeoutMs: 2000 } });
  const b = await startCrdtNode(t, { seeds: [a.cluster.address], settings: { writeTimeoutMs: 2000 } });
  // Membership is gossiped: wait until each node counts the other (majority needs both).
  await waitFor(() => a.cluster.members().length === 2 && b.cluster.members().length === 2, 'both members on both nodes');

  const onB = await open(b, 'k');
  const onA = await open(a, 'k');

  const update = a.call('/c.Crdt/Cmd', 'k');
  t.same(await onA.expect(), { command: { entity_id: 'k', id: 2, name: 'Cmd', payload: { type_url: 'type.googleapis.com/c.Key', value: Buffer.from(key('k')).toString('base64') } } });
  onA.send(replyTo(2, 'added', { state_action: { update: { gcounter: { increment: 3 } }, write_consistency: 1 } }));
  t.equal(msgText(await update), 'added', 'a majority write completes once the other node has it');
  t.equal(b.replicator.getLocal<GCounter>('crdt-k')?.value, 3, 'and it has');
  t.same(await onB.expect(), { delta: { gcounter: { increment: 3 } } }, 'node B’s user function gets the change as a delta');

  // B busy with a command: A's change waits for B's reply.
  const onBusy = b.call('/c.Crdt/Cmd', 'k');
  t.same((await onB.expect()).command !== undefined, true);
  const second = a.call('/c.Crdt/Cmd', 'k');
  await onA.expect();
  onA.send(replyTo(3, 'all', { state_action: { update: { gcounter: { increment: 4 } }, write_consistency: 2 } }));
  t.equal(msgText(await second), 'all', 'an all write completes with both nodes');
  t.equal(onB.received.size, 0, 'nothing pushed to B while its command is outstanding');
  onB.send(replyTo(2, 'b-done', { state_action: { update: { gcounter: { increment: 10 } } } }));
  t.equal(msgText(await onBusy), 'b-done');
  t.same(await onB.expect(), { delta: { gcounter: { increment: 4 } } }, 'A’s change follows B’s reply, without B’s own');
  t.same(await onA.expect(), { delta: { gcounter: { increment: 10 } } }, 'and B’s change reaches A');

  // Votes are tallied over the cluster's members.
  const voteA = await open(a, 'v');
  const voteB = await open(b, 'v');
  const vote = a.call('/c.Crdt/Cmd', 'v');
  await voteA.expect();
  voteA.send(replyTo(2, 'voted', { state_action: { update: { vote: { self_vote: true } }, write_consistency: 1 } }));
  await vote;
  t.same(await voteB.expect(), { delta: { vote: { votes_for: 1, total_voters: 2 } } }, 'B sees one of two members voting for, not itself');

  // A delete on A reaches B's stream.
  const del = a.call('/c.Crdt/Cmd', 'k');
  await onA.expect();
  onA.send(replyTo(4, 'gone', { state_action: { delete: {}, write_consistency: 1 } }));
  t.equal(msgText(await del), 'gone');
  t.same(await onB.expect(), { delete: {} }, 'B’s user function is told of the delete');
  t.equal(await onB.closed, 'end', 'and its stream closed');
  onA.end();
  onB.end();
});

t.test('two nodes: a write the other node does not acknowledge fails at ALL, and the entity restarts', async (t) => {
  const a = await startCrdtNode(t, { settings: { writeTimeoutMs: 300, readTimeoutMs: 300 } });
  const b = await startCrdtNode(t, { seeds: [a.cluster.address] });
  await waitFor(() => a.cluster.members().length === 2 && b.cluster.members().length === 2, 'both members on both nodes');
  const onA = await open(a, 'w');
  await b.replicator.close(); // B stays a member but acknowledges nothing
  const local = a.call('/c.Crdt/Cmd', 'w');
  await onA.expect();
  onA.send(replyTo(2, 'local', { state_action: { update: { pncounter: { change: 1 } } } }));
  t.equal(msgText(await local), 'local', 'a local write needs no one else');
  const all = a.call('/c.Crdt/Cmd', 'w');
  await onA.expect();
  onA.send(replyTo(3, 'never', { state_action: { update: { pncounter: { change: 1 } }, write_consistency: 2 } }));
  t.equal((await all).client_action?.failure?.description, WRITE_FAILED);
  t.match(await a.uf.reported.next(), /Failed to update CRDT at requested write consistency/, 'reported');
  t.equal(await onA.closed, 'end', 'the entity crashed: its stream closed');
  onA.end();
  const next = a.call('/c.Crdt/Cmd', 'w');
  const again = await a.streams.next();
  t.same(await again.expect(), { init: { service_name: 'c.Crdt', entity_id: 'w', delta: { pncounter: { change: 2 } } } }, 'a new instance; the local change of the failed write stays (as in Akka)');
  await again.expect();
  again.send(replyTo(1, 'ok'));
  t.equal(msgText(await next), 'ok');
});

t.test('a Vote tally follows membership: a node joining is one more voter', async (t) => {
  const a = await startCrdtNode(t);
  const onA = await open(a, 'presence');
  const vote = a.call('/c.Crdt/Cmd', 'presence');
  await onA.expect();
  onA.send(replyTo(2, 'online', { state_action: { update: { vote: { self_vote: true } } } }));
  await vote;
  const b = await startCrdtNode(t, { seeds: [a.cluster.address] });
  t.same(await onA.expect(), { delta: { vote: { self_vote: true, votes_for: 1, total_voters: 2 } } }, 'B up: two voters, one for');
  t.ok(b.cluster.members().length >= 1);
});
