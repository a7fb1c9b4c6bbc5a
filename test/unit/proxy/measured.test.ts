import t from 'tap';
import { MetricsRecorder } from '../../../src/autoscale/index.js';
import { ManualScheduler } from '../../../src/core/index.js';
import type { Call, Dispatcher, Response } from '../../../src/proxy/dispatch.js';
import { CallError, Status } from '../../../src/proxy/dispatch.js';
import { measuredDispatcher } from '../../../src/proxy/measured.js';
import type { MethodModel } from '../../../src/proxy/model.js';

const method = {} as MethodModel;
const signal = new AbortController().signal;

t.test('a call in flight counts as a request and a user-function call until it ends, failed or not', async (t) => {
  const scheduler = new ManualScheduler();
  const recorder = new MetricsRecorder({ clock: scheduler });
  let finish!: (r: Response) => void;
  let fail!: (e: Error) => void;
  const inner: Dispatcher = {
    unary: () => new Promise<Response>((resolve, reject) => ((finish = resolve), (fail = reject))),
    async *stream(call: Call) {
      for await (const payload of call.requests) yield { payload };
    },
  };
  const measured = measuredDispatcher(inner, recorder);

  const first = measured.unary(method, new Uint8Array(), [], { signal });
  await scheduler.advance(500);
  finish({ payload: new Uint8Array([1]) });
  t.same((await first).payload, new Uint8Array([1]), 'the reply passes through');
  await scheduler.advance(500);
  let report = recorder.sample();
  t.equal(report.requestConcurrency, 0.5, 'one request for half of the interval');
  t.equal(report.userFunctionConcurrency, 0.5);
  t.equal(report.requestCount, 1);

  const second = measured.unary(method, new Uint8Array(), [], { signal });
  await scheduler.advance(250);
  fail(new CallError(Status.UNKNOWN, 'boom'));
  await t.rejects(second, { message: 'boom' }, 'the failure passes through');
  await scheduler.advance(750);
  report = recorder.sample();
  t.equal(report.requestConcurrency, 0.25, 'a failed request counts until it failed');

  async function* two() {
    yield new Uint8Array([1]);
    await scheduler.advance(1000);
    yield new Uint8Array([2]);
  }
  const out: number[] = [];
  for await (const r of measured.stream({ method, metadata: [], requests: two(), signal })) out.push(r.payload[0]!);
  t.same(out, [1, 2]);
  report = recorder.sample();
  t.equal(report.requestConcurrency, 1, 'a stream counts from start to end');
  t.equal(report.requestsEnded, 1);
});
