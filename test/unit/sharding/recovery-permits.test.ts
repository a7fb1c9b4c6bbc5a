// The bound on concurrent recoveries (src/sharding/recovery-permits.ts), alone and as the
// event-sourced and durable-state behaviours use it: never more storage reads at once than the
// bound, waiting recoveries served in arrival order, a failed recovery frees its permit, and
// every entity of a burst recovers.
import t from 'tap';
import { silentLogger, ManualScheduler } from '../../../src/core/index.js';
import { Journal, openMemoryStorage } from '../../../src/persistence/index.js';
import type { KeyValueStore, SnapshotStore } from '../../../src/persistence/index.js';
import { durableState, Effect, eventSourced } from '../../../src/sharding/behaviors/index.js';
import { RecoveryPermits } from '../../../src/sharding/recovery-permits.js';
import type { EntityContext, EntityStorage } from '../../../src/sharding/types.js';

/** A promise settled from outside. */
function gate<T = void>() {
  let open!: (value: T) => void;
  let fail!: (err: Error) => void;
  const promise = new Promise<T>((resolve, reject) => ((open = resolve), (fail = reject)));
  return { promise, open, fail };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

t.test('permits: at most max at once, the waiting served in arrival order, a failure frees its permit', async (t) => {
  const permits = new RecoveryPermits(2);
  const gates = [0, 1, 2, 3, 4].map(() => gate<number>());
  const started: number[] = [];
  let running = 0;
  let most = 0;
  const runs = gates.map((g, i) =>
    permits.run(async () => {
      started.push(i);
      most = Math.max(most, ++running);
      try {
        return await g.promise;
      } finally {
        running--;
      }
    }),
  );
  await flush();
  t.same(started, [0, 1], 'two start, three wait');
  t.same([permits.active, permits.waiting], [2, 3]);
  gates[1]!.fail(new Error('storage down'));
  await t.rejects(runs[1]!, /storage down/, 'the failure reaches its caller');
  await flush();
  t.same(started, [0, 1, 2], 'its permit went to the first waiting');
  gates[0]!.open(0);
  gates[2]!.open(2);
  await flush();
  t.same(started, [0, 1, 2, 3, 4], 'then the others, in arrival order');
  gates[3]!.open(3);
  gates[4]!.open(4);
  t.same(await Promise.all([runs[0], runs[2], runs[3], runs[4]]), [0, 2, 3, 4], 'each gets its own result');
  t.equal(most, 2, 'never more than two at once');
  t.same([permits.active, permits.waiting], [0, 0], 'every permit returned');
  for (const bad of [0, -1, 1.5, Number.NaN]) t.throws(() => new RecoveryPermits(bad), /positive integer/, `max ${bad} refused`);
});

t.test('a burst of recoveries through the behaviours reads storage within the bound, and every entity recovers', async (t) => {
  const plugin = await openMemoryStorage();
  t.teardown(() => plugin.close());
  const clock = new ManualScheduler(1_700_000_000_000);
  const context = (id: string): EntityContext => ({ typeName: 'Counter', entityId: id, persistenceId: `Counter|${id}`, writerId: 'n#1', clock, logger: silentLogger });
  // Storage reads wait for the test to release them, and count how many are open at once.
  let open = 0;
  let most = 0;
  const waiting: (() => void)[] = [];
  const held = <T>(read: () => Promise<T>) => async (): Promise<T> => {
    most = Math.max(most, ++open);
    await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await read();
    } finally {
      open--;
    }
  };
  /** `store` with its method `name` held; the rest as they are. */
  const holding = <S extends object>(store: S, name: keyof S): S =>
    new Proxy(store, {
      get: (target, key) => {
        const member = Reflect.get(target, key) as unknown;
        if (typeof member !== 'function') return member;
        const bound = (member as (...args: unknown[]) => unknown).bind(target);
        return key === name ? (...args: unknown[]) => held(() => bound(...args) as Promise<unknown>)() : bound;
      },
    });
  const snapshots: SnapshotStore = holding(plugin.snapshotStore, 'loadLatest');
  const keyValue: KeyValueStore = holding(plugin.keyValueStore, 'get');
  const storage: EntityStorage = { journal: new Journal(plugin.journal), snapshots, keyValue, recoveries: new RecoveryPermits(3) };

  const counter = eventSourced<number, number, number, number>({ emptyState: 0, commandHandler: (s, n) => Effect.persist(n).thenReply((x) => x), eventHandler: (s, n) => s + n });
  const value = durableState<number, number, number>({ emptyState: 0, commandHandler: (s, n) => Effect.persist(s + n).thenReply((x) => x) });
  const starts = [
    ...Array.from({ length: 6 }, (_, i) => counter.start(context(`es-${i}`), storage)),
    ...Array.from({ length: 6 }, (_, i) => value.start(context(`kv-${i}`), storage)),
  ];
  while (waiting.length > 0 || open > 0 || storage.recoveries!.waiting > 0) {
    await flush();
    waiting.splice(0).forEach((release) => release());
  }
  const instances = await Promise.all(starts);
  t.equal(instances.length, 12, 'all twelve recovered');
  t.equal(most, 3, 'never more than three recoveries reading storage at once');
  t.same(await Promise.all(instances.map((e) => e.handle(2))), Array(12).fill(2), 'and each serves commands');
});
