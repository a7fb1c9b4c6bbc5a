// TCK model tests, actions: the TCK plays the proxy against the action model implemented with
// this package's user-function library (test/tck/model), over the four ActionProtocol methods,
// and checks every response exactly (reference: ActionTCK "verifyActionModel"). Each group of
// steps gives one response; forwards and side effects go to ActionTwo.Call(OtherRequest{id}).
import t from 'tap';
import { EntityType } from '../../src/protocol/index.js';
import { startModelUserFunction } from './model/server.js';
import { action } from './support/protocol-messages.js';
import { actionModel as M, type ProcessStep } from './support/models.js';
import { TestProtocol, servicesInDescriptorSet } from './support/test-protocol.js';

const userFunction = await startModelUserFunction();
t.teardown(() => userFunction.stop());
const protocol = new TestProtocol(`127.0.0.1:${userFunction.port}`);
t.teardown(() => protocol.close());
const spec = await protocol.discover();

const { single, request, group, replyWith, forwardTo, failWith, sideEffectTo, sideEffects, synchronousSideEffects } = M;
const processUnary = (req: ReturnType<typeof request>) => action.command(M.service, 'ProcessUnary', M.requestPayload(req));
const processStreamedOut = (req: ReturnType<typeof request>) => action.command(M.service, 'ProcessStreamedOut', M.requestPayload(req));
const processStreamedIn = action.command(M.service, 'ProcessStreamedIn');
const processStreamed = action.command(M.service, 'ProcessStreamed');
/** A payload-only message of a streamed call, carrying one request of one group. */
const streamed = (...steps: ProcessStep[]) => action.payload(M.requestPayload(single(...steps)));
const reply = (message: string, effects = sideEffects()) => action.reply(M.response(message), effects);
const forwarded = (id: string, effects = sideEffects()) => action.forward(M.serviceTwo, 'Call', M.otherRequest(id), effects);
const failure = (message: string, effects = sideEffects()) => action.failure(message, effects);

const exchange = (name: string, run: () => PromiseLike<unknown>) =>
  t.test(name, async (t) => {
    await run();
    t.pass('the user function answered exactly as expected');
  });

t.test('verify action entity discovery', async (t) => {
  const services = servicesInDescriptorSet(spec.proto!);
  t.ok(services.includes(M.service) && services.includes(M.serviceTwo), 'both services are in the descriptor set');
  t.equal(spec.entities?.find((e) => e.service_name === M.service)?.entity_type, EntityType.action);
  t.equal(spec.entities?.find((e) => e.service_name === M.serviceTwo)?.entity_type, EntityType.action);
});

// ---- unary: the steps of the one group make one response ----

const unaryCases: Array<[string, ProcessStep[], ReturnType<typeof action.reply>]> = [
  ['reply', [replyWith('one')], reply('one')],
  ['reply with side effect', [replyWith('two'), sideEffectTo('other')], reply('two', sideEffects('other'))],
  ['reply with synchronous side effect', [replyWith('three'), sideEffectTo('another', true)], reply('three', synchronousSideEffects('another'))],
  ['reply with multiple side effects', [replyWith('four'), sideEffectTo('a'), sideEffectTo('b'), sideEffectTo('c')], reply('four', sideEffects('a', 'b', 'c'))],
  ['no reply', [], action.noReply()],
  ['no reply with side effect', [sideEffectTo('other')], action.noReply(sideEffects('other'))],
  ['no reply with synchronous side effect', [sideEffectTo('another', true)], action.noReply(synchronousSideEffects('another'))],
  ['no reply with multiple side effects', [sideEffectTo('a'), sideEffectTo('b'), sideEffectTo('c')], action.noReply(sideEffects('a', 'b', 'c'))],
  ['forward', [forwardTo('one')], forwarded('one')],
  ['forward with side effect', [forwardTo('two'), sideEffectTo('other')], forwarded('two', sideEffects('other'))],
  ['forward with synchronous side effect', [forwardTo('three'), sideEffectTo('another', true)], forwarded('three', synchronousSideEffects('another'))],
  ['forward with multiple side effects', [forwardTo('four'), sideEffectTo('a'), sideEffectTo('b'), sideEffectTo('c')], forwarded('four', sideEffects('a', 'b', 'c'))],
  ['failure', [failWith('one')], failure('one')],
  ['failure with side effect', [failWith('two'), sideEffectTo('other')], failure('two', sideEffects('other'))],
  ['failure with synchronous side effect', [failWith('three'), sideEffectTo('another', true)], failure('three', synchronousSideEffects('another'))],
  ['failure with multiple side effects', [failWith('four'), sideEffectTo('a'), sideEffectTo('b'), sideEffectTo('c')], failure('four', sideEffects('a', 'b', 'c'))],
];
for (const [name, steps, expected] of unaryCases) {
  exchange(`verify unary command ${name}`, () => protocol.action.unary(processUnary(single(...steps))).expect(expected).expectClosed());
}

// ---- streamed in: all requests' steps combine into one response after the client completes ----

const threeRequests = (first: ProcessStep) => [streamed(first, sideEffectTo('a')), streamed(sideEffectTo('b', true)), streamed(sideEffectTo('c'), sideEffectTo('d'))];
const abcd = () => [...sideEffects('a'), ...synchronousSideEffects('b'), ...sideEffects('c', 'd')];
const streamedIn = (messages: ReturnType<typeof action.payload>[], expected: ReturnType<typeof action.reply>) => {
  const call = protocol.action.connectIn().send(processStreamedIn);
  for (const message of messages) call.send(message);
  return call.complete().expect(expected).expectClosed();
};

exchange('verify streamed-in command reply', () => streamedIn([streamed(replyWith('one'))], reply('one')));
exchange('verify streamed-in command reply with side effects', () => streamedIn(threeRequests(replyWith('two')), reply('two', abcd())));
exchange('verify streamed-in command no reply (no requests)', () => streamedIn([], action.noReply()));
exchange('verify streamed-in command no reply', () => streamedIn([streamed()], action.noReply()));
exchange('verify streamed-in command no reply with side effects', () =>
  streamedIn([streamed(sideEffectTo('a')), streamed(sideEffectTo('b', true)), streamed(sideEffectTo('c'), sideEffectTo('d'))], action.noReply(abcd())),
);
exchange('verify streamed-in command forward', () => streamedIn([streamed(forwardTo('one'))], forwarded('one')));
exchange('verify streamed-in command forward with side effects', () => streamedIn(threeRequests(forwardTo('two')), forwarded('two', abcd())));
exchange('verify streamed-in command failure', () => streamedIn([streamed(failWith('one'))], failure('one')));
exchange('verify streamed-in command failure with side effects', () => streamedIn(threeRequests(failWith('two')), failure('two', abcd())));

// ---- streamed out: one response per group, then the stream ends ----

type Expectation = ReturnType<typeof action.reply>;
const fourGroups = (first: (n: string) => ProcessStep | undefined, make: (n: string, effects: ReturnType<typeof sideEffects>) => Expectation): [ReturnType<typeof request>, Expectation[]] => {
  const steps = (n: string, ...rest: ProcessStep[]) => group(...[first(n)].filter((s): s is ProcessStep => s !== undefined), ...rest);
  return [
    request(steps('one'), steps('two', sideEffectTo('other')), steps('three', sideEffectTo('another', true)), steps('four', sideEffectTo('a'), sideEffectTo('b'), sideEffectTo('c'))),
    [make('one', sideEffects()), make('two', sideEffects('other')), make('three', synchronousSideEffects('another')), make('four', sideEffects('a', 'b', 'c'))],
  ];
};
const streamedOutCases: Array<[string, [ReturnType<typeof request>, Expectation[]]]> = [
  ['replies and side effects', fourGroups(replyWith, reply)],
  ['no replies and side effects', fourGroups(() => undefined, (_n, effects) => action.noReply(effects))],
  ['forwards and side effects', fourGroups(forwardTo, forwarded)],
  ['failures and side effects', fourGroups(failWith, failure)],
];
for (const [name, [req, expected]] of streamedOutCases) {
  exchange(`verify streamed-out command ${name}`, () => {
    const call = protocol.action.connectOut(processStreamedOut(req));
    for (const response of expected) call.expect(response);
    return call.expectClosed();
  });
}

// ---- streamed (bidi): each request's groups give their responses as they come ----

const streamedCases: Array<[string, (n: string) => ProcessStep | undefined, (n: string, effects: ReturnType<typeof sideEffects>) => Expectation]> = [
  ['replies and side effects', replyWith, reply],
  ['no replies and side effects', () => undefined, (_n, effects) => action.noReply(effects)],
  ['forwards and side effects', forwardTo, forwarded],
  ['failures and side effects', failWith, failure],
];
for (const [name, first, make] of streamedCases) {
  exchange(`verify streamed command ${name}`, () => {
    const steps = (n: string, ...rest: ProcessStep[]) => group(...[first(n)].filter((s): s is ProcessStep => s !== undefined), ...rest);
    return protocol.action
      .connect()
      .send(processStreamed)
      .send(action.payload(M.requestPayload(request(steps('one')))))
      .expect(make('one', sideEffects()))
      .send(action.payload(M.requestPayload(request(steps('two', sideEffectTo('other'))))))
      .expect(make('two', sideEffects('other')))
      .send(action.payload(M.requestPayload(request(steps('three', sideEffectTo('another', true))))))
      .expect(make('three', synchronousSideEffects('another')))
      .send(action.payload(M.requestPayload(request(steps('four', sideEffectTo('a'), sideEffectTo('b'), sideEffectTo('c'))))))
      .expect(make('four', sideEffects('a', 'b', 'c')))
      .send(action.payload(M.requestPayload(request(steps('five'), steps('six', sideEffectTo('other'))))))
      .expect(make('five', sideEffects()))
      .expect(make('six', sideEffects('other')))
      .complete()
      .expectClosed();
  });
}
