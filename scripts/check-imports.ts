/**
 * Checks every import in src/ against scripts/import-rules.ts. Exits 1 and lists the
 * violations when there are any. Run by `npm test` (and `npm run check:imports`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';
import { importViolation } from './import-rules.js';

const root = join(import.meta.dirname, '..', 'src');

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

const violations: string[] = [];
let files = 0;
let imports = 0;
for (const path of sourceFiles(root)) {
  files++;
  const file = relative(root, path).split(sep).join('/');
  const info = ts.preProcessFile(readFileSync(path, 'utf8'), true, true);
  for (const imported of info.importedFiles) {
    imports++;
    const why = importViolation(file, imported.fileName);
    if (why) violations.push(`src/${file}: imports '${imported.fileName}': ${why}`);
  }
}

if (violations.length > 0) {
  console.error(`Import rules broken (${violations.length}); see ARCHITECTURE.md "Import rules":`);
  for (const v of violations) console.error(`  ${v}`);
  process.exit(1);
}
console.log(`import rules: ${imports} imports in ${files} files of src/ follow ARCHITECTURE.md`);
