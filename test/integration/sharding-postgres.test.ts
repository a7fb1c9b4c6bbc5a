// Cluster sharding across three real processes (UDP and TCP on 127.0.0.1) with a real
// PostgreSQL journal: a load of `add 1` commands to 30 event-sourced counters, sent through all
// three nodes concurrently; midway, kill -9 of the node hosting the most shards (not the first
// node, which hosts the coordinator singleton as the oldest member: killing it is legitimate
// too, but adds a coordinator hand-over and its rebuild to the wait). The load goes on through
// the two survivors. Checked once the cluster settled, against the journal table itself: every
// entity answers again (those of the victim included), its journal is seq 1..n with n = its
// state, every acknowledged command's event is there exactly once, no command's event is
// there twice, and nothing is there that was not sent.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { createPostgresSchema } from '../../src/persistence/plugins/postgres/index.js';
import { shardOf } from '../../src/sharding/index.js';
import { startPostgres } from '../support/postgres-server.js';

const script = join(import.meta.dirname, '..', 'support', 'sharding-node.ts');
const SHARDS = 20;
const ENTITIES = 30;
const COMMANDS = 300;
/** Commands in flight per node at once. */
const IN_FLIGHT = 3;
/** The node's own ask timeout; generous: the victim's entities wait for its downing and their recovery. */
const ASK_TIMEOUT_MS = 10_000;
/** No command is sent later than this after the load began (a bound; it takes about 3 s). */
const LOAD_DEADLINE_MS = 60_000;

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

interface Node {
  name: string;
  proc: ChildProcess;
  address: string;
  id: string;
  exited: boolean;
  pending: Map<string, (o: Outcome) => void>;
  /** The tail of its stderr (its log), shown when the test fails. */
  log: string;
}

const children: ChildProcess[] = [];
t.teardown(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startNode(name: string, url: string, seeds: string[]): Promise<Node> {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...seeds], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, SHARDING_PG_URL: url, SHARDING_SHARDS: String(SHARDS), SHARDING_ASK_TIMEOUT_MS: String(ASK_TIMEOUT_MS) },
  });
  children.push(proc);
  proc.stdin!.on('error', () => undefined); // writes to a killed node
  const node: Node = { name, proc, address: '', id: '', exited: false, pending: new Map(), log: '' };
  proc.stderr!.on('data', (chunk: Buffer) => (node.log = (node.log + chunk.toString()).slice(-30_000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready within 30 s:\n${node.log}`)), 30_000);
    proc.once('exit', (code, signal) => {
      node.exited = true;
      for (const settle of node.pending.values()) settle({ ok: false, code: 'EXITED' });
      node.pending.clear();
      clearTimeout(timer);
      reject(new Error(`${name} exited early (${code ?? signal}):\n${node.log}`)); // no-op once ready
    });
    let buffered = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [verb, a = '', b = '', ...rest] = line.split(' ');
        if (verb === 'ready') {
          node.address = a;
          node.id = b;
          clearTimeout(timer);
          resolve(node);
        } else if (verb === 'reply') {
          const settle = node.pending.get(a);
          node.pending.delete(a);
          settle?.(b === 'ok' ? { ok: true, value: JSON.parse(rest.join(' ')) } : { ok: false, code: rest[0] ?? '?' });
        }
      }
    });
  });
}

let reqs = 0;
/** Sends one request line; resolves with the answer, EXITED, or TEST_TIMEOUT (a hung node). */
function request(node: Node, line: (reqId: string) => string, timeoutMs: number): Promise<Outcome> {
  if (node.exited) return Promise.resolve({ ok: false, code: 'EXITED' });
  const reqId = String(++reqs);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      node.pending.delete(reqId);
      resolve({ ok: false, code: 'TEST_TIMEOUT' });
    }, timeoutMs);
    node.pending.set(reqId, (o) => {
      clearTimeout(timer);
      resolve(o);
    });
    node.proc.stdin!.write(`${line(reqId)}\n`);
  });
}

const ask = (node: Node, entityId: string, command: unknown) => request(node, (r) => `ask ${r} ${entityId} ${JSON.stringify(command)}`, ASK_TIMEOUT_MS + 10_000);

interface NodeState {
  id: string;
  up: number;
  shards: string[];
  quorum: boolean;
  members: string[];
  active: number;
}
async function stateOf(node: Node): Promise<NodeState | undefined> {
  const o = await request(node, (r) => `state ${r}`, 10_000);
  return o.ok ? (o.value as NodeState) : undefined;
}

/** Polls `done()` until it holds or the deadline passes; real time, real processes. */
async function eventually(done: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await done()) return true;
    if (Date.now() > deadline) return false;
    await delay(100);
  }
}

/** `get` of `entityId` through the nodes in turn until one answers; undefined past the deadline. */
async function getValue(nodes: Node[], entityId: string, ms: number): Promise<number | undefined> {
  const deadline = Date.now() + ms;
  for (let i = 0; Date.now() < deadline; i++) {
    const o = await ask(nodes[i % nodes.length]!, entityId, { type: 'get' });
    if (o.ok) return o.value as number;
    await delay(200);
  }
  return undefined;
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

t.test('3 processes, a Postgres journal, kill -9 under load: acknowledged commands stored exactly once, entities answer again', async (t) => {
  const started = Date.now();
  const server = await startPostgres({ fsync: false }); // durability of Postgres itself is not what this measures
  t.teardown(() => server.destroy());
  await createPostgresSchema(server.url); // once, before three nodes open the storage

  const first = await startNode('n0', server.url, []);
  const nodes = [first, ...(await Promise.all([startNode('n1', server.url, [first.address]), startNode('n2', server.url, [first.address])]))];
  try {
    const allUp = (ns: Node[], count: number) => async () => (await Promise.all(ns.map(stateOf))).every((s) => s?.up === count);
    t.ok(await eventually(allUp(nodes, 3), 20_000), 'all 3 see 3 members up');

    // Every entity answers once (so every shard in use is allocated) before the load.
    const ids = Array.from({ length: ENTITIES }, (_, i) => `c${i}`);
    const initial = await Promise.all(ids.map((id, i) => getValue([nodes[i % 3]!, ...nodes], id, 30_000)));
    t.same(initial, ids.map(() => 0), 'every entity answers before the load, at 0');

    // The victim: of n1 and n2, the one hosting the most shards.
    const before = await Promise.all(nodes.map(stateOf));
    t.ok(before.every((s) => s !== undefined), 'every node reports its shards');
    const shardsOf = (i: number) => new Set(before[i]?.shards ?? []);
    const victimIndex = shardsOf(1).size >= shardsOf(2).size ? 1 : 2;
    const victim = nodes[victimIndex]!;
    const victimShards = shardsOf(victimIndex);
    const victimEntities = ids.filter((id) => victimShards.has(shardOf(id, SHARDS)));
    t.ok(victimEntities.length > 0, `the victim ${victim.name} hosts ${victimShards.size} shards with ${victimEntities.length} of our entities`, {
      shards: before.map((s) => s?.shards.length),
    });

    // The load: COMMANDS `add 1`, round-robin over the entities, IN_FLIGHT per node at once.
    const sent = new Map<string, Set<string>>(ids.map((id) => [id, new Set()]));
    const acked = new Map<string, Set<string>>(ids.map((id) => [id, new Set()]));
    const failures = new Map<string, number>();
    let next = 0;
    let ackCount = 0;
    let killedAt: number | undefined;
    let killedAtCommand = -1;
    /** Commands to the victim's entities sent after the kill and acknowledged: served by their new home. */
    let movedAcks = 0;
    let firstMovedAck: number | undefined;
    const loadStart = Date.now();
    const worker = async (node: Node) => {
      while (!node.exited && next < COMMANDS && Date.now() - loadStart < LOAD_DEADLINE_MS) {
        const k = next++;
        const entityId = ids[k % ENTITIES]!;
        const commandId = `k${k}`;
        const afterKill = killedAt !== undefined;
        sent.get(entityId)!.add(commandId);
        const o = await ask(node, entityId, { type: 'add', n: 1, id: commandId });
        if (o.ok) {
          acked.get(entityId)!.add(commandId);
          ackCount++;
          if (afterKill && victimEntities.includes(entityId)) {
            movedAcks++;
            firstMovedAck ??= Date.now();
          }
        } else bump(failures, o.code);
        if (killedAt === undefined && ackCount >= COMMANDS / 3) {
          killedAt = Date.now();
          killedAtCommand = next;
          victim.proc.kill('SIGKILL');
        }
      }
    };
    await Promise.all(nodes.flatMap((n) => Array.from({ length: IN_FLIGHT }, () => worker(n))));
    const sentCount = [...sent.values()].reduce((a, s) => a + s.size, 0);
    t.comment(
      `load: ${ackCount} of ${sentCount} acknowledged in ${Date.now() - loadStart} ms (kill after ${(killedAt ?? loadStart) - loadStart} ms, the victim's entities acknowledged again ${(firstMovedAck ?? NaN) - (killedAt ?? NaN)} ms after it); failures by code: ${JSON.stringify(Object.fromEntries(failures))}`,
    );
    t.ok(ackCount >= COMMANDS / 3, 'a good part of the load was acknowledged');
    if (!t.ok(killedAt !== undefined, 'the victim was killed during the load')) return;
    // Each worker soon waits on one of the victim's entities until the victim is downed, so most
    // of the two thirds of the load left at the kill is sent after the fail-over.
    t.ok(movedAcks > 0, `the victim's entities took commands from their new home during the load (${movedAcks})`);

    const survivors = nodes.filter((n) => n !== victim);
    t.ok(await eventually(allUp(survivors, 2), 30_000), 'the survivors see 2 members up (the victim downed)');

    const values = new Map<string, number>();
    await Promise.all(
      ids.map(async (id, i) => {
        const v = await getValue([survivors[i % 2]!, survivors[(i + 1) % 2]!], id, 30_000);
        if (v !== undefined) values.set(id, v);
      }),
    );
    t.same(
      ids.filter((id) => !values.has(id)),
      [],
      'every entity answers from the survivors',
    );
    t.same(
      victimEntities.filter((id) => !values.has(id)),
      [],
      `the victim's ${victimEntities.length} entities answer again`,
    );

    const after = await Promise.all(survivors.map(stateOf));
    const both = [...(after[0]?.shards ?? [])].filter((s) => after[1]?.shards.includes(s));
    t.same(both, [], 'no shard is hosted by both survivors');
    t.same(
      [...victimShards].filter((s) => victimEntities.some((id) => shardOf(id, SHARDS) === s) && !after.some((st) => st?.shards.includes(s))),
      [],
      "the victim's shards with our entities are hosted by a survivor",
    );

    // The journal itself.
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    const { rows } = await client
      .query<{ persistence_id: string; seq_nr: string; writer_id: string; deleted: boolean; payload: Buffer }>(
        "SELECT persistence_id, seq_nr, writer_id, deleted, payload FROM event_journal WHERE persistence_id LIKE 'counter|%' ORDER BY persistence_id, seq_nr",
      )
      .finally(() => client.end());
    const journal = new Map<string, { seqNr: number; writer: string; deleted: boolean; event: { type: string; n: number; id?: string } }[]>();
    for (const r of rows) {
      const id = r.persistence_id.slice('counter|'.length);
      const list = journal.get(id) ?? [];
      list.push({ seqNr: Number(r.seq_nr), writer: r.writer_id, deleted: r.deleted, event: JSON.parse(r.payload.toString('utf8')) as { type: string; n: number; id?: string } });
      journal.set(id, list);
    }
    const problems: string[] = [];
    const lost: string[] = [];
    const twice: string[] = [];
    let stored = 0;
    let movedWriters = 0;
    const movedOthers: string[] = [];
    for (const id of [...new Set([...ids, ...journal.keys()])]) {
      const events = journal.get(id) ?? [];
      stored += events.length;
      if (!sent.has(id)) problems.push(`${id}: events for an entity never sent to`);
      if (events.some((e, i) => e.seqNr !== i + 1 || e.deleted)) problems.push(`${id}: seq_nr not 1..${events.length}`);
      if (values.has(id) && values.get(id) !== events.length) problems.push(`${id}: state ${values.get(id)} but ${events.length} events`);
      if (events.some((e) => e.event.type !== 'added' || e.event.n !== 1)) problems.push(`${id}: an event that is not {added, 1}`);
      const counts = new Map<string, number>();
      for (const e of events) bump(counts, e.event.id ?? '?');
      for (const [commandId, n] of counts) {
        if (n > 1) twice.push(`${id}: ${commandId} stored ${n} times`);
        if (!sent.get(id)?.has(commandId)) problems.push(`${id}: ${commandId} stored but never sent to it`);
      }
      for (const commandId of acked.get(id) ?? []) if (!counts.has(commandId)) lost.push(`${id}: ${commandId} acknowledged, not stored`);
      if (new Set(events.map((e) => e.writer)).size > 1) {
        if (victimEntities.includes(id)) movedWriters++;
        else {
          // A rebalance: allowed. Where the writer changed, and the command number then (the kill was at k${killedAtCommand}).
          const switches = events.filter((e, i) => i > 0 && e.writer !== events[i - 1]!.writer).map((e) => `seq ${e.seqNr} (${e.event.id})`);
          movedOthers.push(`${id}: ${switches.join(', ')}`);
        }
      }
    }
    t.same(lost, [], 'every acknowledged command is in the journal');
    t.same(twice, [], 'no command is in the journal twice');
    t.same(problems, [], 'each journal is seq 1..n of sent commands, and n is the state');
    t.ok(stored >= ackCount && stored <= sentCount, `stored ${stored}: between acknowledged ${ackCount} and sent ${sentCount}`);
    t.comment(`written by two nodes: ${movedWriters} of the victim's ${victimEntities.length} entities, ${movedOthers.length} others${movedOthers.length > 0 ? ` (kill at k${killedAtCommand}; ${movedOthers.join('; ')})` : ''}; ${sum(failures)} commands failed`);
  } finally {
    if (!t.passing()) {
      for (const n of nodes) {
        const state = n.exited ? 'exited' : JSON.stringify(await stateOf(n));
        t.comment(`${n.name} (${n.id}) now: ${state}\nits log's tail:\n${n.log || '(empty)'}`);
      }
    }
  }
  t.comment(`${Date.now() - started} ms in all`);
});
