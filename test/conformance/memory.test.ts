import t from 'tap';
import { MemoryStorage, openMemoryStorage } from '../../src/persistence/plugins/memory/index.js';
import { runStorageConformance } from '../../src/persistence/testkit/index.js';

// One MemoryStorage behind every open, so the reopen cases see the data of earlier opens.
const storage = new MemoryStorage();
runStorageConformance(t, {
  name: 'memory',
  durable: true,
  open: () => openMemoryStorage({ storage }),
  openSecondClient: () => openMemoryStorage({ storage }),
});
