import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openLevelDbStorage } from '../../src/persistence/plugins/leveldb/index.js';
import { runStorageConformance } from '../../src/persistence/testkit/index.js';

const directory = mkdtempSync(join(tmpdir(), 'cs-leveldb-'));
t.teardown(() => rmSync(directory, { recursive: true, force: true }));

runStorageConformance(t, { name: 'leveldb', durable: true, open: () => openLevelDbStorage({ directory }) });
