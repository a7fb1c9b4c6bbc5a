#!/usr/bin/env node
// Runs tap with the arguments given, passes its output through unchanged, and repeats every
// failure (with the file, the enclosing subtests and tap's diagnostics) at the very end, so a CI
// log that keeps only its tail still says what failed. The exit code is tap's.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const tap = fileURLToPath(new URL('../node_modules/.bin/tap', import.meta.url));
const child = spawn(tap, process.argv.slice(2), { stdio: ['inherit', 'pipe', 'inherit'] });
const failures = [];
const subtests = []; // [indent, name] of the subtests open at this point
let current = null; // the failure whose diagnostics are being collected

const lines = createInterface({ input: child.stdout });
lines.on('line', (line) => {
  process.stdout.write(line + '\n');
  const indent = line.length - line.trimStart().length;
  if (current) {
    if (indent > current.indent || line.trim() === '') {
      if (current.lines.length < 40) current.lines.push(line.slice(current.indent));
      if (line.trim() === '...') current = null;
      return;
    }
    current = null;
  }
  const sub = /^\s*# Subtest: (.*)$/.exec(line);
  if (sub) {
    while (subtests.length && subtests[subtests.length - 1][0] >= indent) subtests.pop();
    subtests.push([indent, sub[1]]);
    return;
  }
  const notOk = /^\s*not ok \d+ - (.*)$/.exec(line);
  if (notOk && !/# (TODO|SKIP)/i.test(line)) {
    const title = notOk[1].replace(/ # time=.*$/, '');
    const path = subtests.filter(([i]) => i < indent).map(([, name]) => name);
    current = { indent, title, path, lines: [] };
    // A subtest that failed because an assertion inside it did is already said by that assertion.
    if (!failures.some((f) => f.path.includes(title))) failures.push(current);
  }
});

child.on('close', (code, signal) => {
  if (failures.length > 0) {
    process.stdout.write(`\n# ${failures.length} failure(s), repeated here:\n`);
    for (const f of failures) {
      process.stdout.write(`#\n# not ok: ${[...f.path, f.title].join(' > ')}\n`);
      for (const l of f.lines) process.stdout.write(`#   ${l}\n`);
    }
  }
  process.exit(code ?? (signal ? 1 : 0));
});
