import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Journal, openStorage } from '../../../src/persistence/index.js';
import type { StorageConfig } from '../../../src/persistence/index.js';
import { write } from '../../../src/persistence/testkit/index.js';

t.test('openStorage opens a plugin by name', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'cs-open-'));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  for (const config of [{ kind: 'memory' }, { kind: 'leveldb', directory }] as StorageConfig[]) {
    const storage = await openStorage(config);
    t.equal(storage.name, config.kind);
    const journal = new Journal(storage.journal);
    await journal.append(write('opened', 1, 2));
    t.equal(await journal.highestSeqNr('opened'), 2);
    await storage.close();
  }
  await t.rejects(openStorage({ kind: 'mysql' } as unknown as StorageConfig), /unknown storage kind "mysql"/);
});
