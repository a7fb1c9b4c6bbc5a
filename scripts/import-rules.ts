/**
 * The import rules of ARCHITECTURE.md, as a pure function over (importing file, imported
 * module). `check-imports.ts` feeds it every import in `src/`; `npm test` fails on a violation.
 *
 * - A layer imports another layer only through that layer's `index.ts`, and only the layers
 *   the table below allows; nothing imports `proxy` (only its bin, outside `src/`).
 * - A storage plugin (`persistence/plugins/<name>/`) imports its own files, the SPI
 *   (`persistence/spi/index.ts`), `core`, node builtins and its own driver, nothing else.
 * - Storage drivers are imported by their plugin only.
 */
import { builtinModules } from 'node:module';
import { posix } from 'node:path';

/** Which layers each layer may import (besides itself). `''` is the package root `src/index.ts`. */
export const allowedLayers: Record<string, readonly string[]> = {
  core: [],
  cluster: ['core'],
  persistence: ['core'],
  protocol: ['core'],
  crdt: ['core', 'cluster'],
  sharding: ['core', 'cluster', 'persistence', 'crdt'],
  autoscale: ['core', 'cluster', 'crdt'],
  proxy: ['core', 'cluster', 'persistence', 'crdt', 'sharding', 'autoscale', 'protocol'],
  function: ['core', 'protocol'],
  testkit: ['core', 'cluster', 'persistence', 'crdt', 'sharding', 'function', 'protocol'],
  '': ['core', 'cluster', 'persistence', 'crdt', 'sharding', 'autoscale', 'function', 'testkit', 'protocol'],
};

/** Exceptions to "only through index.ts": a layer's public sub-entry points. */
const publicEntries = new Set(['persistence/testkit/index.ts']);

/** Driver packages and the plugin that owns each. */
export const drivers: Record<string, string> = { level: 'leveldb', pg: 'postgres', 'cassandra-driver': 'cassandra' };

const builtins = new Set(builtinModules);

const layerOf = (file: string) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : '');
const pluginOf = (file: string) => /^persistence\/plugins\/([^/]+)\//.exec(file)?.[1];
const packageName = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);

/**
 * Why importing `spec` from `file` breaks a rule, or undefined when it is allowed.
 * @param file the importing file, relative to `src/` with `/` separators (e.g. `cluster/state.ts`)
 * @param spec the module specifier as written (e.g. `../core/index.js`, `pg`, `node:fs`)
 */
export function importViolation(file: string, spec: string): string | undefined {
  const plugin = pluginOf(file);
  if (!spec.startsWith('.')) {
    const name = packageName(spec);
    if (spec.startsWith('node:') || builtins.has(name)) return undefined;
    const owner = drivers[name];
    if (owner !== undefined && owner !== plugin) return `driver '${name}' may be imported only by the ${owner} plugin`;
    if (plugin !== undefined && owner !== plugin) return `a storage plugin imports only its own driver, not '${name}'`;
    return undefined;
  }
  const target = posix.normalize(posix.join(posix.dirname(file), spec)).replace(/\.js$/, '.ts');
  if (target.startsWith('..')) return `'${spec}' leaves src/`;
  const from = layerOf(file);
  const to = layerOf(target);
  if (plugin !== undefined) {
    const own = target.startsWith(`persistence/plugins/${plugin}/`);
    if (!own && target !== 'persistence/spi/index.ts' && target !== 'core/index.ts') {
      return `a storage plugin imports only its own files, persistence/spi/index.ts and core/index.ts, not ${target}`;
    }
    return undefined;
  }
  if (from === to) return undefined;
  if (to === 'proxy') return `nothing imports the proxy layer (${file} → ${target})`;
  const allowed = allowedLayers[from];
  if (allowed === undefined) return `${file} is in no known layer`;
  if (!allowed.includes(to)) return `layer '${from || 'root'}' may not import layer '${to}' (${target})`;
  if (target !== `${to}/index.ts` && !publicEntries.has(target)) {
    if (from === 'crdt' && to === 'cluster') return `crdt imports only cluster's public index.ts, not ${target}`;
    return `import ${to}/index.ts, not its internals (${target})`;
  }
  return undefined;
}
