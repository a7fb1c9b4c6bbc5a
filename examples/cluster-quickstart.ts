// Two members on this machine: the first forms a cluster, the second joins it through the first.
import { Cluster } from '@cloudstate/cluster';

const first = await Cluster.start({ preset: 'local', seeds: [] });
first.on('joined', (m) => console.log(`first sees ${m.id === second?.self.id ? 'second' : m.id} join`));
first.on('left', (m) => console.log(`first sees ${m.id === second?.self.id ? 'second' : m.id} leave`));

const second: Cluster = await Cluster.start({ preset: 'local', seeds: [first.address] });
await second.joined;
console.log('second sees', second.alive().length, 'members alive');

await second.leave(); // graceful: the first sees a leave, not a failure
await new Promise((resolve) => first.once('left', resolve));
await first.shutdown();
