// A child process for the LevelDB fault tests: opens the directory, then either appends
// events and prints each acknowledged seqNr (`write`), or holds the database open (`hold`).
import { Journal } from '../../src/persistence/journal.js';
import { openLevelDbStorage } from '../../src/persistence/plugins/leveldb/index.js';
import { write } from '../../src/persistence/testkit/index.js';

const [directory, mode] = process.argv.slice(2);
const storage = await openLevelDbStorage({ directory: directory! });
const journal = new Journal(storage.journal);
process.stdout.write('open\n');
if (mode === 'write') {
  // 8 entities appending concurrently, forever, until killed.
  await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      for (let s = 1; ; s++) {
        await journal.append(write(`crash-${i}`, s, 1));
        process.stdout.write(`ack crash-${i} ${s}\n`);
      }
    }),
  );
} else {
  setInterval(() => undefined, 1000);
}
