import t from 'tap';
import { openPostgresStorage } from '../../src/persistence/plugins/postgres/index.js';
import { silentLogger } from '../../src/core/index.js';
import { runStorageConformance } from '../../src/persistence/testkit/index.js';
import { startPostgres } from '../support/postgres-server.js';

// A real PostgreSQL server, started for this file (fsync off: durability is not what the kit
// measures; the fault tests and the benchmark run with fsync on).
const server = await startPostgres({ fsync: false });
t.teardown(() => server.destroy());

const open = () => openPostgresStorage({ connectionString: server.url, logger: silentLogger });
runStorageConformance(t, { name: 'postgres', durable: true, open, openSecondClient: open });
