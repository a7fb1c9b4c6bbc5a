/**
 * The persistence conformance kit (after Akka's persistence TCK): one suite that every storage
 * plugin's test file runs against real storage. It is independent of the test runner: pass
 * anything with `test(name, fn)` (tap's `t`, or `node:test`'s `test`); cases throw
 * `node:assert` errors on failure. Cases share one database and use ids of their own.
 *
 * ```ts
 * import t from 'tap';
 * runStorageConformance(t, { name: 'leveldb', durable: true, open: () => openLevelDbStorage({ directory }) });
 * ```
 */
import type { StoragePlugin } from '../spi/index.js';
import { journalCases } from './journal-cases.js';
import { storeCases } from './store-cases.js';

/** A test runner: tap's `t` and `node:test`'s `test` both fit. */
export interface TestRegistrar {
  test(name: string, options: { skip?: string | boolean }, fn: () => Promise<void>): unknown;
}

export interface ConformanceTarget {
  /** The plugin's name, shown in case names. */
  name: string;
  /** Opens the plugin over the same storage every time (the kit closes one before reopening). */
  open(): Promise<StoragePlugin>;
  /** Data survives close and reopen (false only for storage that lives in the plugin object). */
  durable: boolean;
  /**
   * Opens a second, independent client of the same storage that may run beside the first (a
   * second node). Plugins whose storage allows one client at a time (LevelDB) leave it out.
   */
  openSecondClient?(): Promise<StoragePlugin>;
  /** The plugin implements events by tag (default true; the kit checks the plugin says the same). */
  eventsByTag?: boolean;
  /** Events in the large-replay case (default 10,000). */
  largeReplayEvents?: number;
}

export interface ConformanceCase {
  name: string;
  /** Why the case does not apply to the target (it is then reported as skipped), or undefined. */
  skip?(target: ConformanceTarget): string | undefined;
  run(target: ConformanceTarget): Promise<void>;
}

/** All cases, for runners that want to pick. */
export function conformanceCases(): ConformanceCase[] {
  return [...journalCases, ...storeCases];
}

/** Registers every case with the runner. */
export function runStorageConformance(t: TestRegistrar, target: ConformanceTarget): void {
  for (const c of conformanceCases()) {
    const skip = c.skip?.(target);
    t.test(`${target.name}: ${c.name}`, skip ? { skip: `${target.name}: ${skip}` } : {}, () => c.run(target));
  }
}

/** Opens the target, runs `fn`, and closes the plugin whatever happens. */
export async function withPlugin<T>(target: ConformanceTarget, fn: (plugin: StoragePlugin) => Promise<T>): Promise<T> {
  const plugin = await target.open();
  try {
    return await fn(plugin);
  } finally {
    await plugin.close();
  }
}
