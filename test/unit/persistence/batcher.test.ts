// The SPI's Batcher (src/persistence/spi/batcher.ts), the group commit of the plugins' stores:
// one write at a time, what arrives meanwhile goes in the next, outcomes reach their own
// callers, a failed write rejects only its own items, writes are bounded in items and bytes,
// and with keys a write holds one item per key, in call order.
import t from 'tap';
import { Batcher, type BatcherOptions } from '../../../src/persistence/spi/index.js';

/** A batcher that answers every item with itself and records each write's items. */
function recording<I>(options: BatcherOptions<I> = {}) {
  const calls: I[][] = [];
  const batcher = new Batcher<I, I>(async (items) => {
    calls.push(items);
    return items;
  }, options);
  return { batcher, calls };
}

/** A batcher whose writes are held until the test releases them; records each write's items. */
function heldBatcher() {
  const calls: number[][] = [];
  const releases: (() => void)[] = [];
  const batcher = new Batcher<number, string>(async (items) => {
    calls.push(items);
    await new Promise<void>((resolve) => releases.push(resolve));
    return items.map((i) => (i < 0 ? new Error(`bad ${i}`) : `done ${i}`));
  });
  const release = async () => {
    while (releases.length === 0) await new Promise((r) => setImmediate(r));
    releases.shift()!();
  };
  return { batcher, calls, release };
}

t.test('Batcher: one write at a time; what arrives meanwhile goes together in the next', async (t) => {
  const { batcher, calls, release } = heldBatcher();
  const first = [batcher.submit(1), batcher.submit(2)];
  await new Promise((r) => setImmediate(r));
  t.same(calls, [[1, 2]], 'items of one tick share the first write');
  const later = [batcher.submit(3), batcher.submit(-4), batcher.submit(5)];
  await new Promise((r) => setImmediate(r));
  t.equal(calls.length, 1, 'no second write while the first is under way');
  await release();
  t.same(await Promise.all(first), ['done 1', 'done 2']);
  await release();
  t.same(calls, [[1, 2], [3, -4, 5]], 'the items that queued meanwhile went in one write');
  const settled = await Promise.allSettled(later);
  t.same(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message)), ['done 3', 'bad -4', 'done 5'], "an item's error reaches only its caller");
  await batcher.whenIdle();
});

t.test('Batcher: a write that throws rejects its own items, and the next batch still runs', async (t) => {
  let fail = true;
  const batcher = new Batcher<number, number>(async (items) => {
    if (fail) {
      fail = false;
      throw new Error('disk gone');
    }
    return items;
  });
  const failed = Promise.allSettled([batcher.submit(1), batcher.submit(2)]);
  t.same((await failed).map((s) => s.status), ['rejected', 'rejected']);
  t.equal(await batcher.submit(3), 3);
  await batcher.whenIdle();
});

t.test('Batcher with keys: one item per key in a write, a key\'s later items in later writes, in call order', async (t) => {
  const { batcher, calls } = recording<string>({ keyOf: (item) => item.split(':')[0]! });
  const all = ['a:1', 'b:1', 'a:2', 'c:1', 'a:3', 'b:2'].map((i) => batcher.submit(i));
  t.ok(batcher.pending('a'), 'a key with queued items is pending');
  t.equal(batcher.pending('z'), undefined, 'a key with none is not');
  t.same(await Promise.all(all), ['a:1', 'b:1', 'a:2', 'c:1', 'a:3', 'b:2']);
  t.same(calls, [['a:1', 'b:1', 'c:1'], ['a:2', 'b:2'], ['a:3']]);
  await batcher.pending('a');
  t.equal(batcher.pending('a'), undefined, 'no longer pending once its last item is written');
  await batcher.whenIdle();
});

t.test('Batcher: at most maxItems per write', async (t) => {
  const { batcher, calls } = recording<number>({ maxItems: 2 });
  await Promise.all([1, 2, 3, 4, 5].map((i) => batcher.submit(i)));
  t.same(calls, [[1, 2], [3, 4], [5]]);
});

t.test('Batcher: about maxBytes per write; a larger item goes alone; unkeyed items keep call order across writes', async (t) => {
  const { batcher, calls } = recording<number>({ maxBytes: 10, bytesOf: (n) => n });
  await Promise.all([4, 5, 3, 20, 1, 2].map((i) => batcher.submit(i)));
  t.same(calls, [[4, 5], [3], [20], [1, 2]], 'the 3 waits for the next write (so the 1 and 2 behind it do too); the 20 alone');
});

t.test('Batcher with keys and maxBytes: another key may go ahead of an item that does not fit, never its own key', async (t) => {
  const { batcher, calls } = recording<string>({ maxBytes: 10, bytesOf: (item) => Number(item.split(':')[1]), keyOf: (item) => item.split(':')[0]! });
  await Promise.all(['a:6', 'b:6', 'b:1', 'c:2'].map((i) => batcher.submit(i)));
  t.same(calls, [['a:6', 'c:2'], ['b:6'], ['b:1']]);
});
