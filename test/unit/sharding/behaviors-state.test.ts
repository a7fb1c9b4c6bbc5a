// The durable-state and in-memory behaviours against real storage (memory and LevelDB), and
// what the Effect types let a handler return.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ManualScheduler, silentLogger } from '../../../src/core/index.js';
import { Journal, RevisionConflictError, openMemoryStorage, openStorage } from '../../../src/persistence/index.js';
import type { StoragePlugin } from '../../../src/persistence/index.js';
import { Effect, EntityRecoveryError, durableState, eventSourced, inMemory } from '../../../src/sharding/behaviors/index.js';
import type { BehaviorInstance } from '../../../src/sharding/behaviors/index.js';
import { CommandFailedError, EntityStoppedError } from '../../../src/sharding/errors.js';
import type { EntityContext, EntityStorage } from '../../../src/sharding/types.js';

const clock = new ManualScheduler();

function contextFor(entityId: string, typeName = 'Account'): EntityContext {
  return { typeName, entityId, persistenceId: `${typeName}|${entityId}`, writerId: 'node-1#1', clock, logger: silentLogger };
}

function entityStorage(storage: StoragePlugin): EntityStorage {
  return { journal: new Journal(storage.journal), snapshots: storage.snapshotStore, keyValue: storage.keyValueStore };
}

interface Account {
  owner: string;
  balance: number;
}
type AccountCommand = { kind: 'open'; owner: string } | { kind: 'deposit'; amount: number } | { kind: 'close' } | { kind: 'get' } | { kind: 'throw' };

const account = durableState<AccountCommand, Account, Account | undefined>({
  emptyState: { owner: '', balance: 0 },
  commandHandler: (state, command) => {
    switch (command.kind) {
      case 'open':
        return Effect.persist({ owner: command.owner, balance: 0 }).thenReply((s) => s);
      case 'deposit':
        if (state.owner === '') return Effect.fail('no such account');
        if (command.amount <= 0) return Effect.fail('a deposit must be positive');
        return Effect.persist({ ...state, balance: state.balance + command.amount }).thenReply((s) => s);
      case 'close':
        return Effect.delete().thenStop();
      case 'get':
        return Effect.reply(state);
      case 'throw':
        throw new Error('handler bug');
    }
  },
});

t.test('durable state: persist stores the state with its revision; a new instance reads it', async (t) => {
  const storage = await openMemoryStorage();
  const es = entityStorage(storage);
  const a = await account.start(contextFor('a1'), es);
  t.same(await a.handle({ kind: 'open', owner: 'ann' }), { owner: 'ann', balance: 0 });
  t.same(await a.handle({ kind: 'deposit', amount: 5 }), { owner: 'ann', balance: 5 });
  const stored = await storage.keyValueStore.get('Account|a1');
  t.equal(stored?.revision, 2);
  t.equal(stored?.manifest, 'json');
  t.same(JSON.parse(new TextDecoder().decode(stored!.payload)), { owner: 'ann', balance: 5 });
  await a.stop();

  const b = await account.start(contextFor('a1'), es);
  t.same(await b.handle({ kind: 'deposit', amount: 3 }), { owner: 'ann', balance: 8 });
  t.equal((await storage.keyValueStore.get('Account|a1'))?.revision, 3);
  await b.stop();
  await storage.close();
});

t.test('durable state: Effect.fail and a throwing handler store nothing; the entity goes on', async (t) => {
  const storage = await openMemoryStorage();
  const es = entityStorage(storage);
  const a = await account.start(contextFor('a2'), es);
  await t.rejects(a.handle({ kind: 'deposit', amount: 1 }), { name: 'CommandFailedError', message: 'no such account' });
  await a.handle({ kind: 'open', owner: 'bo' });
  await t.rejects(a.handle({ kind: 'deposit', amount: -1 }), CommandFailedError);
  await t.rejects(a.handle({ kind: 'throw' }), { name: 'CommandFailedError', message: /command handler of Account\|a2 threw: handler bug/ });
  t.equal((await storage.keyValueStore.get('Account|a2'))?.revision, 1);
  t.same(await a.handle({ kind: 'deposit', amount: 2 }), { owner: 'bo', balance: 2 });
  await a.stop();
  await storage.close();
});

t.test('durable state: a second writer is caught by the revision; the stale one stops', async (t) => {
  const storage = await openMemoryStorage();
  const es = entityStorage(storage);
  const seed = await account.start(contextFor('a3'), es);
  await seed.handle({ kind: 'open', owner: 'cy' });
  await seed.stop();

  const fast = await account.start(contextFor('a3'), es);
  const slow = await account.start(contextFor('a3'), es);
  await fast.handle({ kind: 'deposit', amount: 10 });
  const conflict = await slow.handle({ kind: 'deposit', amount: 1 }).catch((err: unknown) => err);
  t.ok(conflict instanceof EntityStoppedError);
  t.ok((conflict as Error).cause instanceof RevisionConflictError);
  await t.rejects(slow.handle({ kind: 'get' }), EntityStoppedError, 'refuses later commands');
  t.same(JSON.parse(new TextDecoder().decode((await storage.keyValueStore.get('Account|a3'))!.payload)), { owner: 'cy', balance: 10 });

  const recovered = await account.start(contextFor('a3'), es);
  t.same(await recovered.handle({ kind: 'deposit', amount: 1 }), { owner: 'cy', balance: 11 });
  await Promise.all([fast.stop(), slow.stop(), recovered.stop()]);
  await storage.close();
});

t.test('durable state: delete removes the value; the entity starts again empty', async (t) => {
  const storage = await openMemoryStorage();
  const es = entityStorage(storage);
  const a = (await account.start(contextFor('a4'), es)) as BehaviorInstance<AccountCommand, Account | undefined>;
  await a.handle({ kind: 'open', owner: 'di' });
  t.equal(await a.handle({ kind: 'close' }), undefined);
  t.ok(a.wantsStop, 'thenStop after delete asks to be passivated');
  t.equal(await storage.keyValueStore.get('Account|a4'), undefined);
  t.same(await a.handle({ kind: 'get' }), { owner: '', balance: 0 });
  t.same(await a.handle({ kind: 'open', owner: 'ed' }), { owner: 'ed', balance: 0 }, 'stores again from revision 0');
  t.equal((await storage.keyValueStore.get('Account|a4'))?.revision, 1);
  await a.stop();
  await t.rejects(a.handle({ kind: 'get' }), EntityStoppedError);
  await storage.close();
});

t.test('durable state: an undecodable value makes start reject, naming the entity', async (t) => {
  const storage = await openMemoryStorage();
  await storage.keyValueStore.upsert('Account|bad', { payload: new Uint8Array([0xff, 0x00]), manifest: 'json' });
  const err = await account.start(contextFor('bad'), entityStorage(storage)).catch((e: unknown) => e);
  t.ok(err instanceof EntityRecoveryError);
  t.match((err as Error).message, /recovery of entity bad of type Account \(Account\|bad\) failed at decoding the value at revision 1/);
  await storage.close();
});

t.test('durable state: LevelDB keeps the value across a reopen', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'cs-behaviors-'));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  let storage = await openStorage({ kind: 'leveldb', directory });
  const a = await account.start(contextFor('a5'), entityStorage(storage));
  await a.handle({ kind: 'open', owner: 'fay' });
  await a.handle({ kind: 'deposit', amount: 7 });
  await a.stop();
  await storage.close();
  storage = await openStorage({ kind: 'leveldb', directory });
  const b = await account.start(contextFor('a5'), entityStorage(storage));
  t.same(await b.handle({ kind: 'deposit', amount: 1 }), { owner: 'fay', balance: 8 });
  t.equal((await storage.keyValueStore.get('Account|a5'))?.revision, 3);
  await b.stop();
  await storage.close();
});

t.test('in memory: state per instance, from initial, lost on stop', async (t) => {
  const storage = await openMemoryStorage();
  const es = entityStorage(storage);
  const counter = inMemory<number, { id: string; total: number }, number>({
    initial: (entityId) => ({ id: entityId, total: entityId.length }),
    receive: async (state, n, ctx) => {
      if (n < 0) throw new Error('negative');
      t.equal(ctx.entityId, state.id);
      return { state: { ...state, total: state.total + n }, reply: state.total + n };
    },
  });
  const a = await counter.start(contextFor('abc', 'Counter'), es);
  t.equal(await a.handle(1), 4);
  t.equal(await a.handle(2), 6);
  await t.rejects(a.handle(-1), { name: 'CommandFailedError', message: /receive of Counter\|abc threw: negative/ });
  t.equal(await a.handle(0), 6, 'a throw leaves the state as it was');
  await a.stop();
  await t.rejects(a.handle(1), EntityStoppedError);
  const b = await counter.start(contextFor('abc', 'Counter'), es);
  t.equal(await b.handle(0), 3, 'passivation lost the state');
  await b.stop();

  const plain = inMemory<string, string[], number>({ initial: [], receive: (s, c) => ({ state: [...s, c], reply: s.length + 1 }) });
  const p = await plain.start(contextFor('p', 'Log'), es);
  const replies = await Promise.all(['a', 'b', 'c'].map((c) => p.handle(c)));
  t.same(replies, [1, 2, 3], 'commands sent at once are handled one at a time, in order');
  await p.stop();
  await storage.close();
});

t.test('the Effect types keep replies honest and deletion for durable state', (t) => {
  const typeOnly = () => {
    eventSourced<string, string, number, number>({
      emptyState: 0,
      // @ts-expect-error an event-sourced handler cannot delete
      commandHandler: () => Effect.delete(),
      eventHandler: (s) => s,
    });
    eventSourced<string, string, number, number>({
      emptyState: 0,
      // @ts-expect-error Effect.none() replies undefined, not a number
      commandHandler: () => Effect.none(),
      eventHandler: (s) => s,
    });
    eventSourced<string, string, number, number | undefined>({
      emptyState: 0,
      commandHandler: (s, c) => (c === 'x' ? Effect.fail('no') : c === 'y' ? Effect.none() : Effect.persist(c).thenReply((n) => n + 1)),
      eventHandler: (s) => s + 1,
    });
  };
  t.type(typeOnly, 'function');
  t.end();
});
