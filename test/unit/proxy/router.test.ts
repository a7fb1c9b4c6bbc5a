import t from 'tap';
import type { Any, MetadataEntry } from '../../../src/protocol/index.js';
import { buildProxyModel } from '../../../src/proxy/descriptors.js';
import { CallError } from '../../../src/proxy/dispatch.js';
import type { UserFunctionReply } from '../../../src/proxy/entities/messages.js';
import type { MethodModel } from '../../../src/proxy/model.js';
import { describeRoute, Router } from '../../../src/proxy/router.js';
import { anyOf, msg, testSpec } from './entities/fake-user-function.js';

const model = buildProxyModel(testSpec());
const payload = (text: string): Any => anyOf('t.Msg', msg(text));
const replyWith = (text: string, extra: Partial<UserFunctionReply> = {}): UserFunctionReply => ({ client_action: { reply: { payload: payload(text) } }, ...extra });
const effect = (command: string, synchronous: boolean) => ({ service_name: 't.Two', command_name: 'Call', payload: payload(command), synchronous });

function router(invoke: (method: MethodModel, payload: Any, metadata: readonly MetadataEntry[]) => Promise<UserFunctionReply>, maxDepth?: number) {
  const reported: string[] = [];
  return { reported, router: new Router({ model, invoke, reportError: (m) => reported.push(m), maxDepth }) };
}

const initial = [{ reason: 'initial' as const, service: 't.Act', command: 'Unary' }];

t.test('describeRoute names each hop with why it was taken', async (t) => {
  const cases: [Parameters<typeof describeRoute>, string][] = [
    [['Service [x] unknown', 'initial', []], 'Service [x] unknown'],
    [['Service [x] unknown', 'forwarded', initial], 'Service [x] unknown\n  forwarded from t.Act.Unary'],
    [
      ['E', 'forwarded', [{ reason: 'side-effect', service: 't.Two', command: 'Call' }, ...initial]],
      'E\n  forwarded from t.Two.Call\n  side-effect of t.Act.Unary',
    ],
  ];
  for (const [args, expected] of cases) t.equal(describeRoute(...args), expected);
});

t.test('side effects start in order; each synchronous one is awaited before the next step; then the forward', async (t) => {
  const log: string[] = [];
  const pending = new Map<string, () => void>();
  const { router: r } = router(async (method, p) => {
    const text = new TextDecoder().decode(p.value!.subarray(2));
    log.push(`start ${method.serviceName}.${method.name} ${text}`);
    await new Promise<void>((resolve) => pending.set(text, resolve));
    log.push(`end ${text}`);
    return replyWith(`reply of ${text}`);
  });
  const done = r.complete(
    { client_action: { forward: { service_name: 't.Two', command_name: 'Call', payload: payload('fwd') } }, side_effects: [effect('a', false), effect('s', true), effect('b', false)] },
    initial,
  );
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  await tick();
  t.same(log, ['start t.Two.Call a', 'start t.Two.Call s'], 'the async effect is started, the sync one is awaited');
  pending.get('s')!();
  await tick();
  t.same(log.slice(2), ['end s', 'start t.Two.Call b', 'start t.Two.Call fwd'], 'after it: the next effect, then the forward');
  pending.get('fwd')!();
  const result = await done;
  t.same(result.client_action?.reply?.payload, payload('reply of fwd'), "the forward's reply is the answer");
  pending.get('a')!();
  pending.get('b')!();
});

t.test('a forwarding loop ends at the depth limit and is reported', async (t) => {
  let calls = 0;
  const { router: r, reported } = router(async () => {
    calls++;
    return { client_action: { forward: { service_name: 't.Two', command_name: 'Call', payload: payload('again') } } };
  }, 5);
  await t.rejects(r.route('initial', [], 't.Act', 'Unary', payload('go'), []), CallError);
  t.equal(calls, 5);
  t.match(reported[0], /more than 5 forwards and side effects deep/);
});

t.test('a failing asynchronous side effect does not fail the call', async (t) => {
  const { router: r } = router(async (method) => {
    if (method.serviceName === 't.Two') throw new CallError(2, 'effect failed');
    return replyWith('main', { side_effects: [effect('x', false)] });
  });
  const result = await r.route('initial', [], 't.Act', 'Unary', payload('go'), []);
  t.same(result.client_action?.reply?.payload, payload('main'));
});

t.test('a failing synchronous side effect fails the call', async (t) => {
  const { router: r } = router(async (method) => {
    if (method.serviceName === 't.Two') throw new CallError(2, 'effect failed');
    return replyWith('main', { side_effects: [effect('x', true)] });
  });
  await t.rejects(r.route('initial', [], 't.Act', 'Unary', payload('go'), []), { message: 'effect failed' });
});

t.test('streamed methods cannot be forwarded to', async (t) => {
  const { router: r, reported } = router(async () => ({ client_action: { forward: { service_name: 't.Act', command_name: 'Out', payload: payload('x') } } }));
  await t.rejects(r.route('initial', [], 't.Act', 'Unary', payload('go'), []), CallError);
  t.match(reported[0], /t\.Act\.Out is a streamed method/);
});
