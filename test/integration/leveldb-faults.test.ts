import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import t from 'tap';
import { Journal } from '../../src/persistence/journal.js';
import { LEVELDB_LOCKED, openLevelDbStorage } from '../../src/persistence/plugins/leveldb/index.js';
import { keys } from '../../src/persistence/plugins/leveldb/keys.js';
import { CorruptRecordError } from '../../src/persistence/spi/index.js';
import { collect, write } from '../../src/persistence/testkit/index.js';

const child = join(import.meta.dirname, '..', 'support', 'leveldb-writer.ts');
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'cs-leveldb-faults-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
};

/** Starts the child and resolves once it printed `open`; `onLine` sees every line. */
function startChild(directory: string, mode: string, onLine: (line: string) => void = () => undefined) {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, directory, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buffered = '';
  const opened = new Promise<void>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    proc.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line === 'open') resolve();
        onLine(line);
      }
    });
  });
  return { proc, opened };
}

t.test('a corrupt record on replay is an error naming the persistence id and seqNr', async (t) => {
  const directory = tempDir();
  const storage = await openLevelDbStorage({ directory });
  const journal = new Journal(storage.journal);
  await journal.append(write('damaged', 1, 5));
  await storage.close();
  const raw = new Level<string, Uint8Array>(directory, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await raw.put(keys.event('damaged', 3), Buffer.from('garbage written by a broken disk'));
  await raw.close();

  const reopened = await openLevelDbStorage({ directory });
  t.teardown(() => reopened.close());
  const j = new Journal(reopened.journal);
  const seen: number[] = [];
  const err = await (async () => {
    try {
      for await (const e of j.replay('damaged')) seen.push(e.seqNr);
    } catch (e) {
      return e;
    }
  })();
  t.ok(err instanceof CorruptRecordError, 'a CorruptRecordError');
  t.match((err as Error).message, /damaged seqNr 3/);
  t.same(seen, [1, 2], 'events before the damage were delivered');
  t.same((await collect(j.replay('damaged', { fromSeqNr: 4 }))).map((e) => e.seqNr), [4, 5], 'the rest stays readable');
});

t.test('a directory in use by another process is refused with a clear error', async (t) => {
  const directory = tempDir();
  const { proc, opened } = startChild(directory, 'hold');
  t.teardown(() => proc.kill('SIGKILL'));
  await opened;
  await t.rejects(openLevelDbStorage({ directory }), { code: LEVELDB_LOCKED, message: new RegExp(`${directory}.*in use by another process`) });
});

t.test('kill -9 while writing: every acknowledged event is there after reopen', async (t) => {
  const directory = tempDir();
  const acked = new Map<string, number>();
  let acks = 0;
  let reached!: () => void;
  const enough = new Promise<void>((r) => (reached = r));
  const { proc, opened } = startChild(directory, 'write', (line) => {
    const [, id, seq] = line.split(' ');
    if (line.startsWith('ack')) {
      acked.set(id!, Number(seq));
      if (++acks === 400) reached();
    }
  });
  await opened;
  await enough;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;

  const storage = await openLevelDbStorage({ directory });
  t.teardown(() => storage.close());
  const journal = new Journal(storage.journal);
  for (const [id, last] of acked) {
    const events = await collect(journal.replay(id));
    t.ok(events.length >= last, `${id}: ${events.length} stored, ${last} acknowledged`);
    t.same(events.map((e) => e.seqNr), Array.from({ length: events.length }, (_, i) => i + 1), `${id}: no gaps`);
    t.equal(await journal.highestSeqNr(id), events.length);
  }
  await journal.append(write('crash-0', (await journal.highestSeqNr('crash-0')) + 1, 1));
});

t.test('reads of the highest seqNr racing with appends never make the writer conflict', async (t) => {
  const directory = tempDir();
  const storage = await openLevelDbStorage({ directory });
  t.teardown(() => storage.close());
  const journal = new Journal(storage.journal);
  await journal.append(write('seed', 1, 1));
  const ids = Array.from({ length: 20 }, (_, i) => `racy-${i}`);
  await Promise.all(
    ids.map(async (id) => {
      for (let s = 1; s <= 30; s++) {
        const reads = Promise.all([journal.highestSeqNr(id), journal.highestSeqNr(id)]);
        await journal.append(write(id, s, 1));
        const seen = await reads;
        t.ok(seen.every((h) => h === s - 1 || h === s), `${id}: a reader saw ${seen} around seqNr ${s}`);
      }
    }),
  );
  for (const id of ids) t.equal(await journal.highestSeqNr(id), 30);
});
