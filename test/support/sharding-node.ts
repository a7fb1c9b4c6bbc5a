// A cluster member with sharding in its own process, for the integration tests: joins the seeds
// given as arguments (local preset) and hosts event-sourced counters (type `counter`) whose
// events go to the PostgreSQL database at SHARDING_PG_URL (its tables must exist already).
// `{type:'add', n, id?}` persists `{type:'added', n, id}` and replies the new value;
// `{type:'get'}` replies the value. It prints `ready <address> <id>`, then serves the test over
// stdin/stdout, one line each way:
//
//   ask <reqId> <entityId> <json command>  →  reply <reqId> ok <json reply> | reply <reqId> err <code>
//   state <reqId>                          →  reply <reqId> ok {"id","up","shards","quorum","members","active"}
//
// `up` is the number of members this node sees up and reachable, `shards` the shards its
// region hosts, `members` each member as `id state reachable|unreachable`. SHARDING_SHARDS sets the number of shards (default 20), SHARDING_ASK_TIMEOUT_MS
// the ask timeout (default 10 s); the log (pino JSON) goes to stderr at SHARDING_LOG_LEVEL
// (default info; lifecycle events are logged at info too). SIGKILL is the crash; when stdin closes (the test is gone) the process exits.
import { createInterface } from 'node:readline';
import { Cluster } from '../../src/cluster/index.js';
import { createLogger } from '../../src/core/index.js';
import { Journal, openStorage } from '../../src/persistence/index.js';
import { Effect, eventSourced } from '../../src/sharding/behaviors/index.js';
import { Sharding } from '../../src/sharding/index.js';

// `id` names a command; its event carries it, so the test can find each command's event.
type Command = { type: 'add'; n: number; id?: string } | { type: 'get' };
type Event = { type: 'added'; n: number; id?: string };

const counter = eventSourced<Command, Event, number, number>({
  emptyState: 0,
  commandHandler: (state, command) => (command.type === 'add' ? Effect.persist<Event, number>({ type: 'added', n: command.n, id: command.id }).thenReply((s) => s) : Effect.reply(state)),
  eventHandler: (state, event) => state + event.n,
});

const url = process.env.SHARDING_PG_URL;
if (!url) throw new Error('SHARDING_PG_URL is not set');
const logger = createLogger({ name: 'sharding-node', level: process.env.SHARDING_LOG_LEVEL ?? 'info' });
const storage = await openStorage({ kind: 'postgres', connectionString: url, createSchema: false, logger });
const cluster = await Cluster.start({ preset: 'local', seeds: process.argv.slice(2), logger });
const sharding = new Sharding(cluster, {
  storage: { journal: new Journal(storage.journal), snapshots: storage.snapshotStore, keyValue: storage.keyValueStore },
  logger,
});
const counters = sharding.init({
  typeName: 'counter',
  behavior: counter,
  numberOfShards: Number(process.env.SHARDING_SHARDS ?? 20),
  rebalanceIntervalMs: 1000,
});
cluster.on('change', (e) => logger.info({ member: e.member.id, reachable: e.member.reachable }, e.type));
await cluster.joined;
process.stdout.write(`ready ${cluster.address} ${cluster.self.id}\n`);

const answer = (reqId: string, outcome: string) => process.stdout.write(`reply ${reqId} ${outcome}\n`);
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [verb, reqId = '?', entityId = '', ...rest] = line.split(' ');
  if (verb === 'state') {
    const members = cluster.members().map((m) => `${m.id} ${m.state} ${m.reachable ? 'reachable' : 'unreachable'}`);
    const state = { id: cluster.self.id, up: cluster.upMembers().length, shards: counters.region.hostedShards(), quorum: cluster.hasQuorum, members, active: counters.region.activeEntities };
    answer(reqId, `ok ${JSON.stringify(state)}`);
  } else if (verb === 'ask') {
    let command: Command;
    try {
      command = JSON.parse(rest.join(' ')) as Command;
    } catch {
      return answer(reqId, 'err ERR_BAD_REQUEST');
    }
    counters
      .entityRef(entityId)
      .ask(command, { timeoutMs: Number(process.env.SHARDING_ASK_TIMEOUT_MS ?? 10_000) })
      .then(
        (reply) => answer(reqId, `ok ${JSON.stringify(reply)}`),
        (err: { code?: unknown }) => answer(reqId, `err ${typeof err?.code === 'string' ? err.code : 'ERR_UNKNOWN'}`),
      );
  } else {
    answer(reqId, 'err ERR_BAD_REQUEST');
  }
});
lines.on('close', () => process.exit(0));
