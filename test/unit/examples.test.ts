// The README's examples are real files, run here, so the README cannot drift from what works.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import t from 'tap';

const run = promisify(execFile);
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

t.test('persistence quickstart: shown in the README verbatim, and it runs', async (t) => {
  const source = readFileSync(new URL('../../examples/persistence-quickstart.ts', import.meta.url), 'utf8');
  t.ok(readme.includes(source.trim()), 'README shows examples/persistence-quickstart.ts as it is');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/persistence-quickstart.ts']);
  t.equal(stdout, '1 ItemAdded:apple\n2 ItemAdded:pear\nhighest seqNr: 2\n');
});

t.test('cluster quickstart: shown in the README verbatim, and it runs', async (t) => {
  const source = readFileSync(new URL('../../examples/cluster-quickstart.ts', import.meta.url), 'utf8');
  t.ok(readme.includes(source.trim()), 'README shows examples/cluster-quickstart.ts as it is');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/cluster-quickstart.ts']);
  t.equal(stdout, 'a sees: a up, b up\nb got "hello" from a\nping #1, handled on a\nping #1, handled on b\n');
  t.ok(readme.includes(stdout.trim()), 'README shows what it prints');
});

t.test('the README states the two commands, and .ci/run runs the test one', async (t) => {
  t.match(readme, /npm ci && npm start/);
  t.match(readme, /npm ci && npm test/);
  t.match(readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8'), /^npm ci && npm test$/m);
});
