// Pacing the ingress's unary calls (src/proxy/paced.ts): at most N start per event-loop turn,
// the others in later turns in arrival order; results and failures pass through; streams are
// not held. Turns are driven by hand.
import t from 'tap';
import { pacedDispatcher, TurnBudget } from '../../../src/proxy/paced.js';
import type { Dispatcher, Response } from '../../../src/proxy/dispatch.js';

/** A `nextTurn` the test advances: `turn()` runs what was scheduled for the next turn. */
function turns() {
  let scheduled: (() => void)[] = [];
  return {
    nextTurn: (callback: () => void) => void scheduled.push(callback),
    turn() {
      const now = scheduled;
      scheduled = [];
      for (const callback of now) callback();
    },
    get pending() {
      return scheduled.length;
    },
  };
}

t.test('at most perTurn tasks start in a turn; the rest follow in arrival order, before newer ones', async (t) => {
  const loop = turns();
  const budget = new TurnBudget(2, loop.nextTurn);
  const started: string[] = [];
  for (const name of ['a', 'b', 'c', 'd', 'e']) budget.run(() => started.push(name));
  t.same(started, ['a', 'b'], 'two start in the turn they arrive');
  t.equal(budget.queued, 3);
  loop.turn();
  t.same(started, ['a', 'b', 'c', 'd'], 'the next turn starts the next two');
  budget.run(() => started.push('f'));
  t.same(started, ['a', 'b', 'c', 'd'], 'a newcomer waits behind e, though it arrived in a new turn');
  loop.turn();
  t.same(started, ['a', 'b', 'c', 'd', 'e', 'f'], 'then e and f, in order');
  loop.turn();
  t.equal(loop.pending, 0, 'an idle budget schedules nothing more');
  budget.run(() => started.push('g'));
  t.same(started.at(-1), 'g', 'a quiet turn starts a call at once');
  for (const bad of [0, -1, 2.5, Number.NaN]) t.throws(() => new TurnBudget(bad), /positive integer/, `${bad} calls per turn refused`);
});

t.test('the paced dispatcher: unary answers and failures pass through, streams start at once', async (t) => {
  const loop = turns();
  const calls: string[] = [];
  const inner: Dispatcher = {
    unary: async (method) => {
      calls.push(method.name);
      if (method.name === 'Fail') throw new Error('refused');
      return { payload: Buffer.from(method.name) } as Response;
    },
    stream: async function* () {
      calls.push('stream');
      yield { payload: Buffer.from('s') } as Response;
    },
  };
  const paced = pacedDispatcher(inner, new TurnBudget(1, loop.nextTurn));
  const call = (name: string) => paced.unary({ name } as never, new Uint8Array(), [], { signal: new AbortController().signal });
  const one = call('One');
  const failing = call('Fail');
  t.same(calls, ['One'], 'one unary call started; the second waits');
  const streamed = paced.stream({} as never)[Symbol.asyncIterator]().next();
  t.same(Buffer.from((await streamed).value.payload).toString(), 's');
  t.same(calls, ['One', 'stream'], 'the stream did not wait');
  loop.turn();
  t.same(Buffer.from((await one).payload).toString(), 'One', 'the answer passes through');
  await t.rejects(failing, /refused/, 'so does the failure');
});
