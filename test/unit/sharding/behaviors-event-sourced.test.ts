// The event-sourced behaviour against real storage (memory and LevelDB): persist before reply,
// recovery from events and from a snapshot, the three journal outcomes, two writers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ManualScheduler, silentLogger } from '../../../src/core/index.js';
import {
  CorruptRecordError,
  Journal,
  JournalFailureError,
  JournalRejectedError,
  SequenceConflictError,
  openMemoryStorage,
  openStorage,
} from '../../../src/persistence/index.js';
import type { JournalPlugin, PersistentRepr, StoragePlugin } from '../../../src/persistence/index.js';
import { FaultyJournal, collect } from '../../../src/persistence/testkit/index.js';
import { Effect, EntityRecoveryError, eventSourced } from '../../../src/sharding/behaviors/index.js';
import type { BehaviorInstance, EventSourcedSpec } from '../../../src/sharding/behaviors/index.js';
import { CommandFailedError, EntityStoppedError } from '../../../src/sharding/errors.js';
import type { EntityContext, EntityInstance, EntityStorage } from '../../../src/sharding/types.js';

type CartEvent = { type: 'ItemAdded'; item: string; qty: number } | { type: 'CheckedOut' };
interface Cart {
  items: Record<string, number>;
  checkedOut: boolean;
}
type CartCommand =
  | { kind: 'add'; item: string; qty?: number }
  | { kind: 'addMany'; items: string[] }
  | { kind: 'checkout' }
  | { kind: 'get' }
  | { kind: 'throw' }
  | { kind: 'huge' };

const clock = new ManualScheduler(1_700_000_000_000);

function contextFor(entityId: string, writerId = 'node-1#1'): EntityContext {
  return { typeName: 'Cart', entityId, persistenceId: `Cart|${entityId}`, writerId, clock, logger: silentLogger };
}

function entityStorage(storage: StoragePlugin, journal: JournalPlugin = storage.journal): EntityStorage {
  return { journal: new Journal(journal), snapshots: storage.snapshotStore, keyValue: storage.keyValueStore };
}

/** A shopping cart; `applied` counts event handler calls (to see how much recovery replayed). */
function cart(options: Partial<EventSourcedSpec<CartCommand, CartEvent, Cart, Cart>> = {}) {
  const counters = { applied: 0 };
  const behavior = eventSourced<CartCommand, CartEvent, Cart, Cart>({
    emptyState: { items: {}, checkedOut: false },
    commandHandler: (state, command) => {
      switch (command.kind) {
        case 'add':
          if (state.checkedOut) return Effect.fail('the cart is checked out');
          return Effect.persist({ type: 'ItemAdded', item: command.item, qty: command.qty ?? 1 }).thenReply((s) => s);
        case 'addMany':
          return Effect.persist(command.items.map((item) => ({ type: 'ItemAdded' as const, item, qty: 1 }))).thenReply((s) => s);
        case 'checkout':
          return Effect.persist({ type: 'CheckedOut' }).thenStop().thenReply((s) => s);
        case 'get':
          return Effect.reply(state);
        case 'throw':
          throw new Error('handler bug');
        case 'huge':
          return Effect.persist({ type: 'ItemAdded', item: 'x'.repeat(2000), qty: 1 }).thenReply((s) => s);
      }
    },
    eventHandler: (state, event) => {
      counters.applied++;
      if (event.type === 'CheckedOut') return { ...state, checkedOut: true };
      return { ...state, items: { ...state.items, [event.item]: (state.items[event.item] ?? 0) + event.qty } };
    },
    tagger: (event) => (event.type === 'CheckedOut' ? ['cart', 'checkout'] : ['cart']),
    ...options,
  });
  return { behavior, counters };
}

t.test('persists events before replying with the new state', async (t) => {
  const storage = await openMemoryStorage();
  const es = entityStorage(storage);
  const { behavior } = cart();
  const cart1 = await behavior.start(contextFor('c1'), es);
  t.same(await cart1.handle({ kind: 'add', item: 'apple', qty: 2 }), { items: { apple: 2 }, checkedOut: false });
  t.same(await cart1.handle({ kind: 'add', item: 'pear' }), { items: { apple: 2, pear: 1 }, checkedOut: false });
  t.same(await cart1.handle({ kind: 'get' }), { items: { apple: 2, pear: 1 }, checkedOut: false }, 'a reply persists nothing');
  const stored = await collect(es.journal.replay('Cart|c1'));
  t.same(
    stored.map((e) => [e.seqNr, e.manifest, e.writerId, e.timestamp, e.tags]),
    [
      [1, 'ItemAdded', 'node-1#1', clock.now(), ['cart']],
      [2, 'ItemAdded', 'node-1#1', clock.now(), ['cart']],
    ],
  );
  t.same(JSON.parse(new TextDecoder().decode(stored[0]!.payload)), { type: 'ItemAdded', item: 'apple', qty: 2 });
  await cart1.stop();
  await storage.close();
});

t.test('recovers from its events, and goes on numbering after them', async (t) => {
  const storage = await openMemoryStorage();
  const es = entityStorage(storage);
  const first = cart();
  const a = await first.behavior.start(contextFor('c2'), es);
  for (const item of ['a', 'b', 'a']) await a.handle({ kind: 'add', item });
  await a.stop();

  const second = cart();
  const b = await second.behavior.start(contextFor('c2', 'node-2#1'), es);
  t.equal(second.counters.applied, 3, 'three events replayed');
  t.same(await b.handle({ kind: 'get' }), { items: { a: 2, b: 1 }, checkedOut: false });
  await b.handle({ kind: 'add', item: 'c' });
  t.same((await collect(es.journal.replay('Cart|c2'))).map((e) => [e.seqNr, e.writerId]), [
    [1, 'node-1#1'],
    [2, 'node-1#1'],
    [3, 'node-1#1'],
    [4, 'node-2#1'],
  ]);
  await b.stop();
  await storage.close();
});

t.test('recovers from the latest snapshot and the events after it', async (t) => {
  const storage = await openMemoryStorage();
  const es = entityStorage(storage);
  const first = cart({ snapshotEvery: 3 });
  const a = await first.behavior.start(contextFor('c3'), es);
  for (const item of ['a', 'b']) await a.handle({ kind: 'add', item });
  t.equal(await storage.snapshotStore.loadLatest('Cart|c3'), undefined, 'no snapshot before 3 events');
  await a.handle({ kind: 'addMany', items: ['c', 'd'] }); // seqNr 3-4: crosses 3
  for (const item of ['e', 'f']) await a.handle({ kind: 'add', item }); // 5, 6: crosses 6
  await a.handle({ kind: 'add', item: 'g' }); // 7
  await a.stop(); // waits for the snapshot saves
  const latest = await storage.snapshotStore.loadLatest('Cart|c3');
  t.equal(latest?.metadata.seqNr, 6);
  t.equal(latest?.metadata.timestamp, clock.now());
  t.same(JSON.parse(new TextDecoder().decode(latest!.payload)).items, { a: 1, b: 1, c: 1, d: 1, e: 1, f: 1 });
  t.ok(await storage.snapshotStore.loadLatest('Cart|c3', { maxSeqNr: 4 }), 'the one at seqNr 4 was saved too');

  const second = cart({ snapshotEvery: 3 });
  const b = await second.behavior.start(contextFor('c3'), es);
  t.equal(second.counters.applied, 1, 'only the event after the snapshot was replayed');
  t.same((await b.handle({ kind: 'get' })).items, { a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1 });
  t.same((await b.handle({ kind: 'add', item: 'h' })).items.h, 1);
  t.equal(await es.journal.highestSeqNr('Cart|c3'), 8);
  await b.stop();
  await storage.close();
});

t.test('Effect.fail and a throwing handler persist nothing; the entity goes on', async (t) => {
  const storage = await openMemoryStorage();
  const es = entityStorage(storage);
  const { behavior } = cart();
  const c = await behavior.start(contextFor('c4'), es);
  await c.handle({ kind: 'add', item: 'a' });
  await c.handle({ kind: 'checkout' });
  await t.rejects(c.handle({ kind: 'add', item: 'b' }), { name: 'CommandFailedError', code: 'ERR_SHARDING_COMMAND_FAILED', message: 'the cart is checked out' });
  const thrown = await c.handle({ kind: 'throw' }).catch((err: unknown) => err);
  t.ok(thrown instanceof CommandFailedError);
  t.match((thrown as Error).message, /command handler of Cart\|c4 threw: handler bug/);
  t.equal(((thrown as Error).cause as Error).message, 'handler bug');
  t.equal(await es.journal.highestSeqNr('Cart|c4'), 2);
  t.same(await c.handle({ kind: 'get' }), { items: { a: 1 }, checkedOut: true }, 'still handles commands');
  await c.stop();
  await storage.close();
});

t.test('a multi-event command is one atomic write with consecutive seqNrs', async (t) => {
  const storage = await openMemoryStorage();
  const writes: (readonly PersistentRepr[])[] = [];
  const spy = new FaultyJournal(storage.journal);
  const writeBatch = spy.writeBatch.bind(spy);
  spy.writeBatch = (batch) => {
    for (const w of batch) writes.push(w.events);
    return writeBatch(batch);
  };
  const es = entityStorage(storage, spy);
  const { behavior } = cart();
  const c = await behavior.start(contextFor('c5'), es);
  await c.handle({ kind: 'add', item: 'a' });
  clock.advance(1000);
  t.same((await c.handle({ kind: 'addMany', items: ['b', 'c', 'd'] })).items, { a: 1, b: 1, c: 1, d: 1 });
  t.equal(writes.length, 2, 'one write per command');
  t.same(
    writes[1]!.map((e) => [e.seqNr, e.timestamp]),
    [2, 3, 4].map((n) => [n, clock.now()]),
  );
  spy.rejectNext(1);
  await t.rejects(c.handle({ kind: 'addMany', items: ['e', 'f'] }), CommandFailedError);
  t.equal(await es.journal.highestSeqNr('Cart|c5'), 4, 'a rejected write stores none of its events');
  t.same(await c.handle({ kind: 'addMany', items: [] }), await c.handle({ kind: 'get' }), 'no events: nothing written');
  t.equal(writes.length, 3);
  await c.stop();
  await storage.close();
});

t.test('a rejected write fails the command, the state stays, the entity goes on', async (t) => {
  const storage = await openMemoryStorage({ maxPayloadBytes: 1000 });
  const faulty = new FaultyJournal(storage.journal);
  const es = entityStorage(storage, faulty);
  const { behavior } = cart();
  const c = await behavior.start(contextFor('c6'), es);
  await c.handle({ kind: 'add', item: 'a' });

  const tooLarge = await c.handle({ kind: 'huge' }).catch((err: unknown) => err);
  t.ok(tooLarge instanceof CommandFailedError, 'too large: rejected by the journal');
  t.ok((tooLarge as Error).cause instanceof JournalRejectedError);

  faulty.rejectNext(1);
  const rejected = await c.handle({ kind: 'add', item: 'b' }).catch((err: unknown) => err);
  t.ok(rejected instanceof CommandFailedError);
  t.ok((rejected as Error).cause instanceof JournalRejectedError);

  t.same(await c.handle({ kind: 'get' }), { items: { a: 1 }, checkedOut: false }, 'state unchanged');
  t.same(await c.handle({ kind: 'add', item: 'c' }), { items: { a: 1, c: 1 }, checkedOut: false }, 'the next write goes through');
  t.same((await collect(es.journal.replay('Cart|c6'))).map((e) => e.seqNr), [1, 2]);
  await c.stop();
  await storage.close();
});

t.test('a storage failure stops the instance; a new one recovers', async (t) => {
  const storage = await openMemoryStorage();
  const faulty = new FaultyJournal(storage.journal);
  const es = entityStorage(storage, faulty);
  const { behavior } = cart();
  const c = (await behavior.start(contextFor('c7'), es)) as BehaviorInstance<CartCommand, Cart>;
  await c.handle({ kind: 'add', item: 'a' });
  faulty.failNext(1);
  const failed = await c.handle({ kind: 'add', item: 'b' }).catch((err: unknown) => err);
  t.ok(failed instanceof EntityStoppedError);
  t.equal((failed as EntityStoppedError).code, 'ERR_SHARDING_ENTITY_STOPPED');
  t.ok((failed as Error).cause instanceof JournalFailureError);
  t.ok(c.broken);
  await t.rejects(c.handle({ kind: 'get' }), EntityStoppedError, 'refuses even a read');
  await c.stop();

  const again = await behavior.start(contextFor('c7'), es);
  t.same(await again.handle({ kind: 'add', item: 'b' }), { items: { a: 1, b: 1 }, checkedOut: false });
  await again.stop();
  await storage.close();
});

t.test('two writers: the slower one gets EntityStoppedError and refuses later commands', async (t) => {
  const storage = await openMemoryStorage();
  const es = entityStorage(storage);
  const { behavior } = cart();
  const seed = await behavior.start(contextFor('c8'), es);
  await seed.handle({ kind: 'add', item: 'a' });
  await seed.stop();

  const fast = await behavior.start(contextFor('c8', 'node-1#2'), es);
  const slow = await behavior.start(contextFor('c8', 'node-2#1'), es);
  t.same(await fast.handle({ kind: 'add', item: 'b' }), { items: { a: 1, b: 1 }, checkedOut: false });
  t.same(await slow.handle({ kind: 'get' }), { items: { a: 1 }, checkedOut: false }, 'reads do not notice');
  const conflict = await slow.handle({ kind: 'add', item: 'c' }).catch((err: unknown) => err);
  t.ok(conflict instanceof EntityStoppedError);
  t.ok((conflict as Error).cause instanceof SequenceConflictError);
  t.match((conflict as Error).message, /Cart\|c8/);
  await t.rejects(slow.handle({ kind: 'get' }), EntityStoppedError);
  t.same(await fast.handle({ kind: 'add', item: 'd' }), { items: { a: 1, b: 1, d: 1 }, checkedOut: false }, 'the other writer is unaffected');
  t.same((await collect(es.journal.replay('Cart|c8'))).map((e) => e.writerId), ['node-1#1', 'node-1#2', 'node-1#2']);
  await fast.stop();
  await slow.stop();
  await storage.close();
});

t.test('side effects run after the write, in order, before the reply; thenStop asks for passivation', async (t) => {
  const storage = await openMemoryStorage();
  const es = entityStorage(storage);
  const seen: string[] = [];
  const behavior = eventSourced<string, string, string[], number | undefined>({
    emptyState: [],
    commandHandler: (state, command) => {
      if (command === 'stop') return Effect.stop();
      if (command === 'bad') return Effect.persist(command).thenRun(() => Promise.reject(new Error('side effect bug')));
      return Effect.persist<string, string[]>([command, command])
        .thenRun(async (s) => void seen.push(`first saw ${s.length}`))
        .thenRun((s: string[]) => void seen.push(`second saw ${s.length}`))
        .thenReply((s) => (seen.push('reply'), s.length));
    },
    eventHandler: (state, event) => [...state, event],
  });
  const c = (await behavior.start(contextFor('c9'), es)) as BehaviorInstance<string, number | undefined>;
  t.equal(await c.handle('x'), 2);
  t.same(seen, ['first saw 2', 'second saw 2', 'reply']);
  t.same((await collect(es.journal.replay('Cart|c9'))).map((e) => e.manifest), ['json', 'json'], 'manifest json for non-objects');
  await t.rejects(c.handle('bad'), { name: 'CommandFailedError', message: /side effect or the reply of Cart\|c9 threw: side effect bug/ });
  t.equal(await es.journal.highestSeqNr('Cart|c9'), 3, 'what was persisted stays');
  t.notOk(c.wantsStop);
  t.equal(await c.handle('stop'), undefined);
  t.ok(c.wantsStop, 'Effect.stop() asks to be passivated');
  t.equal(await c.handle('y'), 5, 'until stopped, it still handles commands');
  await c.stop();
  await t.rejects(c.handle('z'), EntityStoppedError, 'a stopped instance refuses commands');
  await storage.close();
});

t.test('a corrupt or undecodable event makes start reject, naming the entity', async (t) => {
  const storage = await openMemoryStorage();
  const es = entityStorage(storage);
  const event = (seqNr: number, text: string): PersistentRepr => ({
    persistenceId: 'Cart|bad',
    seqNr,
    payload: new TextEncoder().encode(text),
    manifest: 'ItemAdded',
    writerId: 'w',
    timestamp: 0,
    tags: [],
  });
  await es.journal.append({ persistenceId: 'Cart|bad', events: [event(1, '{"type":"ItemAdded","item":"a","qty":1}'), event(2, 'not json')] });
  const { behavior } = cart();
  const err = await behavior.start(contextFor('bad'), es).catch((e: unknown) => e);
  t.ok(err instanceof EntityRecoveryError);
  t.equal((err as EntityRecoveryError).code, 'ERR_SHARDING_RECOVERY_FAILED');
  t.match((err as Error).message, /recovery of entity bad of type Cart \(Cart\|bad\) failed at event seqNr 2 \(ItemAdded\)/);

  // A plugin that finds a record it cannot decode throws CorruptRecordError mid-stream.
  const corrupting: JournalPlugin = Object.create(storage.journal, {
    replay: {
      value: async function* (persistenceId: string) {
        yield* storage.journal.replay(persistenceId, 1, 1, 1);
        throw new CorruptRecordError(persistenceId, 2, 'bad checksum');
      },
    },
  });
  const err2 = await behavior.start(contextFor('bad'), entityStorage(storage, corrupting)).catch((e: unknown) => e);
  t.ok(err2 instanceof EntityRecoveryError);
  t.ok((err2 as Error).cause instanceof CorruptRecordError);
  t.match((err2 as Error).message, /entity bad .*corrupt journal record Cart\|bad seqNr 2: bad checksum/);
  await storage.close();
});

t.test('LevelDB: the state survives closing and reopening the store', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'cs-behaviors-'));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  let storage = await openStorage({ kind: 'leveldb', directory });
  const first = cart({ snapshotEvery: 4 });
  const a = await first.behavior.start(contextFor('c10'), entityStorage(storage));
  await a.handle({ kind: 'addMany', items: ['a', 'b', 'c'] });
  for (const item of ['d', 'e']) await a.handle({ kind: 'add', item });
  await a.stop();
  await storage.close();

  storage = await openStorage({ kind: 'leveldb', directory });
  const second = cart({ snapshotEvery: 4 });
  const b: EntityInstance<CartCommand, Cart> = await second.behavior.start(contextFor('c10', 'node-1#2'), entityStorage(storage));
  t.equal(second.counters.applied, 1, 'snapshot at 4, then event 5');
  t.same((await b.handle({ kind: 'add', item: 'a' })).items, { a: 2, b: 1, c: 1, d: 1, e: 1 });
  t.equal(await new Journal(storage.journal).highestSeqNr('Cart|c10'), 6);
  await b.stop();
  await storage.close();
});

t.test('a failed snapshot save is logged, not fatal; deleted events keep their seqNrs', async (t) => {
  const storage = await openMemoryStorage();
  const warnings: unknown[] = [];
  const logger = { warn: (fields: unknown) => void warnings.push(fields) } as unknown as EntityContext['logger'];
  const failingSnapshots = Object.create(storage.snapshotStore, {
    save: { value: () => Promise.reject(new Error('disk full')) },
  }) as StoragePlugin['snapshotStore'];
  const es: EntityStorage = { ...entityStorage(storage), snapshots: failingSnapshots };
  const { behavior } = cart({ snapshotEvery: 2 });
  const c = await behavior.start({ ...contextFor('c11'), logger }, es);
  await c.handle({ kind: 'addMany', items: ['a', 'b'] });
  t.same((await c.handle({ kind: 'add', item: 'c' })).items, { a: 1, b: 1, c: 1 });
  await c.stop();
  t.match(warnings, [{ persistenceId: 'Cart|c11', seqNr: 2, err: 'disk full' }]);

  await es.journal.deleteTo('Cart|c11', 3);
  const again = cart();
  const d = await again.behavior.start(contextFor('c11'), es);
  t.equal(again.counters.applied, 0, 'nothing left to replay');
  t.same((await d.handle({ kind: 'add', item: 'd' })).items, { d: 1 });
  t.same((await collect(es.journal.replay('Cart|c11'))).map((e) => e.seqNr), [4], 'numbering goes on after the deleted events');
  await d.stop();
  await storage.close();
});
