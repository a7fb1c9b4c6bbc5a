import { EventEmitter } from 'node:events';
import t from 'tap';
import { silentLogger } from '../../../src/core/index.js';
import { serveEntityStream } from '../../../src/function/entity-stream.js';

interface In {
  init?: { service_name?: string };
  n?: number;
  fail?: boolean;
  throws?: boolean;
}
interface Out {
  n?: number;
  failure?: { command_id?: number; description?: string } | null;
}

/** A fake grpc duplex call: the test emits what the proxy sends, and sees what the function writes. */
class FakeCall extends EventEmitter {
  readonly written: Out[] = [];
  ended = false;
  private readonly endWaiters: Array<() => void> = [];
  write(message: Out): void {
    if (this.ended) throw new Error('write after end');
    this.written.push(message);
  }
  end(): void {
    this.ended = true;
    for (const waiter of this.endWaiters.splice(0)) waiter();
  }
  whenEnded(): Promise<void> {
    return this.ended ? Promise.resolve() : new Promise((resolve) => this.endWaiters.push(resolve));
  }
}

/** Each message's handler waits for the test to release it: later messages must wait their turn. */
function serve(call: FakeCall) {
  const releases: Array<() => void> = [];
  const started: number[] = [];
  const released = (n: number) =>
    new Promise<void>((resolve) => {
      started.push(n);
      releases.push(resolve);
    });
  serveEntityStream<In, Out, { id: string }>(
    call,
    {
      initOf: (message) => message.init,
      create: (message) => {
        if (message.init?.service_name !== 'known') throw new Error(`unknown service ${message.init?.service_name}`);
        return { id: 'instance' };
      },
      handle: async (_instance, message) => {
        await released(message.n ?? 0);
        if (message.throws) throw new Error('handler threw');
        return message.fail ? { failure: { command_id: message.n, description: 'failed' } } : { n: message.n };
      },
    },
    silentLogger,
  );
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  return { releases, started, tick };
}

t.test('messages are handled one at a time, in order, even when handlers are async', async (t) => {
  const call = new FakeCall();
  const { releases, started, tick } = serve(call);
  call.emit('data', { init: { service_name: 'known' } });
  call.emit('data', { n: 1 });
  call.emit('data', { n: 2 });
  call.emit('data', { n: 3 });
  await tick();
  t.same(started, [1], 'the second waits for the first');
  releases[0]!();
  await tick();
  t.same(started, [1, 2]);
  t.same(call.written, [{ n: 1 }]);
  releases[1]!();
  await tick();
  releases[2]!();
  call.emit('end');
  await call.whenEnded();
  t.same(call.written, [{ n: 1 }, { n: 2 }, { n: 3 }], 'the half-close waits for pending messages');
});

t.test('a failure output is written, then the stream ends and later messages are ignored', async (t) => {
  const call = new FakeCall();
  const { releases, started, tick } = serve(call);
  call.emit('data', { init: { service_name: 'known' } });
  call.emit('data', { n: 1, fail: true });
  call.emit('data', { n: 2 });
  await tick();
  releases[0]!();
  await call.whenEnded();
  await tick();
  t.same(call.written, [{ failure: { command_id: 1, description: 'failed' } }]);
  t.same(started, [1], 'message 2 never handled');
});

t.test('a throwing handler, an unknown service, a second init, no init: failure and end', async (t) => {
  const cases: Array<[string, In[], RegExp]> = [
    ['handler throws', [{ init: { service_name: 'known' } }, { n: 1, throws: true }], /handler threw/],
    ['unknown service', [{ init: { service_name: 'other' } }], /unknown service other/],
    ['init twice', [{ init: { service_name: 'known' } }, { init: { service_name: 'known' } }], /init message received twice/],
    ['no init', [{ n: 1 }], /before init/],
  ];
  for (const [label, messages, description] of cases) {
    const call = new FakeCall();
    const { releases, tick } = serve(call);
    for (const message of messages) call.emit('data', message);
    await tick();
    for (const release of releases) release();
    await call.whenEnded();
    t.equal(call.written.length, 1, label);
    t.equal(call.written[0]!.failure?.command_id, 0, `${label}: stream-level failure`);
    t.match(call.written[0]!.failure?.description, description, label);
  }
});

t.test('a cancelled call is never written to', async (t) => {
  const call = new FakeCall();
  const { releases, tick } = serve(call);
  call.emit('data', { init: { service_name: 'known' } });
  call.emit('data', { n: 1 });
  await tick();
  call.emit('cancelled');
  releases[0]!();
  await tick();
  await tick();
  t.same(call.written, []);
});
