// A sharded, event-sourced counter shared by two processes; its state survives a restart of both.
//   npx tsx examples/sharded-counter.ts host 25520 ./counter-data   hosts the counters (LevelDB in ./counter-data)
//   npx tsx examples/sharded-counter.ts visit 25520                 joins, counts a visit, leaves
import { Cluster, Effect, Sharding, entityStorage, eventSourced, openStorage } from '@cloudstate/cluster';

const [mode = 'host', port = '25520', directory = './counter-data'] = process.argv.slice(2);
const host = mode === 'host';
const cluster = await Cluster.start({ preset: 'local', port: host ? Number(port) : 0, seeds: [`127.0.0.1:${port}`], roles: host ? ['counter'] : [] });
const storage = host ? await openStorage({ kind: 'leveldb', directory }) : undefined;
const sharding = new Sharding(cluster, { storage: storage && entityStorage(storage) });

type Command = { type: 'visit' } | { type: 'get' };
type Event = { type: 'visited' };
const counters = sharding.init({
  typeName: 'counter',
  role: 'counter', // entities live on the host; other members route to it
  behavior: eventSourced<Command, Event, number, number>({
    emptyState: 0,
    commandHandler: (count, command) => (command.type === 'visit' ? Effect.persist<Event, number>({ type: 'visited' }).thenReply((n) => n) : Effect.reply(count)),
    eventHandler: (count) => count + 1,
  }),
});
await cluster.joined;

if (host) {
  console.log(`host: up, ${await counters.entityRef('home-page').ask({ type: 'get' })} visits so far`);
  process.once('SIGTERM', () => void cluster.leave().then(() => storage!.close()).then(() => process.exit(0)));
} else {
  console.log(`visit: home-page has ${await counters.entityRef('home-page').ask({ type: 'visit' })} visits`);
  await cluster.leave();
}
