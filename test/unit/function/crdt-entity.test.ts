// CRDT entities at the protocol level: a grpc-js client plays the proxy on `cloudstate.crdt.Crdt`
// and checks what the library answers: state actions with write consistency, rollback of a
// failed command, streamed calls kept open (messages after local and replicated changes, end of
// stream, cancellation with its state update and side effects), and the stream failures (a state
// replaced, an incompatible delta, a message before init), plus the entity's observers.
import { join } from 'node:path';
import pino from 'pino';
import t, { type Test } from 'tap';
import { CloudstateServer, CrdtEntity, PNCounter, type CrdtCommandContext } from '../../../src/function/index.js';
import { tckProtoDir } from '../../tck/support/codec.js';
import { anyOf, decodeAny, openHandle, protocolClient, startServer, type Plain } from './protocol-client.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const PKG = 'cloudstate.tck.model.crdt';
const SERVICE = `${PKG}.CrdtTckModel`;

interface Observed {
  set: number[];
  changed: number[];
}

function counterEntity(observed: Observed): CrdtEntity<PNCounter> {
  return new CrdtEntity<PNCounter>({
    serviceName: SERVICE,
    protoFiles: ['cloudstate/tck/model/crdt.proto'],
    includeDirs: [tckProtoDir],
    persistenceId: 'counters',
    onStateSet: (state) => observed.set.push(state.value),
    onStateChange: (state) => observed.changed.push(state.value),
    commandHandlers: {
      Process(request: Plain, ctx: CrdtCommandContext<PNCounter>) {
        const counter = (ctx.state ??= new PNCounter());
        if (request.id === 'replace') ctx.state = new PNCounter();
        for (const action of request.actions) {
          if (action.update) {
            counter.increment(Number(action.update.pncounter.change));
            ctx.writeConsistency = (['local', 'majority', 'all'] as const)[action.update.writeConsistency as 0 | 1 | 2];
          }
          if (action.delete) ctx.delete();
          if (action.fail) ctx.fail(action.fail.message);
        }
        return { state: { pncounter: { value: counter.value } } };
      },
      ProcessStreamed(_request: Plain, ctx: CrdtCommandContext<PNCounter>) {
        ctx.state ??= new PNCounter();
        ctx.onStateChange = (state, streamed) => {
          if (state.value >= 10) streamed.endStream();
          return { state: { pncounter: { value: state.value } } };
        };
        ctx.onStreamCancel = (state, cancelled) => {
          state!.decrement(1);
          cancelled.effect(`${PKG}.CrdtTwo`, 'Call', { id: 'bye' });
        };
        return undefined;
      },
    },
  });
}

async function setup(t: Test) {
  const observed: Observed = { set: [], changed: [] };
  const entity = counterEntity(observed);
  const { port } = await startServer(t, [entity]);
  const client = protocolClient('cloudstate.crdt.Crdt', port);
  t.teardown(() => client.close());
  const { call, inbox } = openHandle(client);
  t.teardown(() => call.end());
  const request = (id: string, actions: Plain[] = []) => anyOf(entity.root, `${PKG}.Request`, { id, actions });
  const command = (id: number, name: string, payload = request('c1'), streamed = false) => ({ command: { entity_id: 'c1', id, name, payload, streamed } });
  const valueOf = (out: Plain) => decodeAny(entity.root, (out.reply ?? out.streamed_message).client_action.reply.payload).state.pncounter.value;
  return { entity, call, inbox, observed, request, command, valueOf };
}

const change = (by: number, writeConsistency = 0) => ({ update: { pncounter: { change: by }, writeConsistency } });

t.test('commands: state action with the delta and write consistency; a failure rolls the state back', async (t) => {
  const { call, inbox, observed, request, command, valueOf } = await setup(t);
  call.write({ init: { service_name: SERVICE, entity_id: 'c1', delta: { pncounter: { change: 5 } } } });
  call.write(command(1, 'Process', request('c1', [change(2, 1)])));
  const one = (await inbox.next())!.reply;
  t.equal(one.command_id, 1);
  t.equal(valueOf({ reply: one }), 7, 'the initial delta and the change');
  t.same(one.state_action, { update: { pncounter: { change: 2 } }, write_consistency: 1 }, 'the delta, at MAJORITY');

  call.write(command(2, 'Process', request('c1', [change(100), { fail: { message: 'no' } }])));
  const two = (await inbox.next())!.reply;
  t.same(two.client_action, { failure: { command_id: 2, description: 'no' } });
  t.notOk(two.state_action, 'a failed command has no state action');
  call.write(command(3, 'Process', request('c1')));
  t.equal(valueOf(await inbox.next() as Plain), 7, 'the failed change was rolled back');

  call.write(command(4, 'Process', request('c1', [{ delete: {} }])));
  t.same((await inbox.next())!.reply.state_action, { delete: {} });
  t.same(observed.set, [5, 7], 'onStateSet: the initial state, then the rolled-back one');
  t.same(observed.changed, [7], 'onStateChange: the successful change');
});

t.test('streamed calls: kept open, a message after every change, ended by the handler, cancellation answered', async (t) => {
  const { call, inbox, command, valueOf, request } = await setup(t);
  call.write({ init: { service_name: SERVICE, entity_id: 'c1' } });
  call.write(command(1, 'ProcessStreamed', request('c1'), true));
  t.same((await inbox.next())!.reply, { command_id: 1, streamed: true }, 'no answer yet, the call stays open');
  call.write(command(2, 'ProcessStreamed', request('c1'), true));
  t.same((await inbox.next())!.reply, { command_id: 2, streamed: true });

  call.write({ delta: { pncounter: { change: 4 } } });
  for (const id of [1, 2]) {
    const message = (await inbox.next())!.streamed_message;
    t.equal(message.command_id, id, `call ${id} is told of the replicated change`);
    t.equal(valueOf({ streamed_message: message }), 4);
  }

  call.write({ stream_cancelled: { entity_id: 'c1', id: 2 } });
  const cancelled = (await inbox.next())!.stream_cancelled_response;
  t.equal(cancelled.command_id, 2);
  t.same(cancelled.state_action, { update: { pncounter: { change: -1 } } }, 'the cancellation\'s update');
  t.equal(cancelled.side_effects[0].command_name, 'Call');
  const after = (await inbox.next())!.streamed_message;
  t.equal(after.command_id, 1, 'only the call still open hears of it');
  t.equal(valueOf({ streamed_message: after }), 3);

  call.write(command(3, 'Process', request('c1', [change(7)])));
  t.equal(valueOf((await inbox.next())!), 10);
  const last = (await inbox.next())!.streamed_message;
  t.equal(last.end_stream, true, 'the handler ended the stream');
  call.write({ delta: { pncounter: { change: 1 } } });
  call.write(command(4, 'Process', request('c1')));
  t.equal(valueOf((await inbox.next())!), 11, 'nothing more is streamed to an ended call');
});

t.test('onStateChange on a call that is not streamed fails the command\'s stream', async (t) => {
  const { call, inbox, command, request } = await setup(t);
  call.write({ init: { service_name: SERVICE, entity_id: 'c1' } });
  call.write(command(1, 'ProcessStreamed', request('c1'), false));
  const out = (await inbox.next())!;
  t.match(out.failure.description, /not a streamed call/);
  t.same(await inbox.ended(), [], 'the stream ended');
});

t.test('replacing the state fails the stream', async (t) => {
  const { call, inbox, command, request } = await setup(t);
  call.write({ init: { service_name: SERVICE, entity_id: 'c1' } });
  call.write(command(1, 'Process', request('replace')));
  t.match((await inbox.next())!.failure.description, /already set/);
  t.same(await inbox.ended(), []);
});

t.test('an incompatible delta fails the stream', async (t) => {
  const { call, inbox } = await setup(t);
  call.write({ init: { service_name: SERVICE, entity_id: 'c1', delta: { pncounter: { change: 1 } } } });
  call.write({ delta: { gcounter: { increment: 1 } } });
  t.match((await inbox.next())!.failure.description, /a gcounter delta for a pncounter/);
  t.same(await inbox.ended(), []);
});

t.test('a message before init fails the stream', async (t) => {
  const { call, inbox, command } = await setup(t);
  call.write(command(1, 'Process'));
  t.match((await inbox.next())!.failure.description, /before init/);
  t.same(await inbox.ended(), []);
});

t.test('discovery: the CRDT entity type, and the Crdt protocol service served', async (t) => {
  const { entity } = await setup(t);
  t.same(entity.toDiscovery(), { entity_type: 'cloudstate.crdt.Crdt', service_name: SERVICE, persistence_id: 'counters' });
  t.throws(
    () => new CrdtEntity({ serviceName: SERVICE, protoFiles: ['cloudstate/tck/model/crdt.proto'], includeDirs: [tckProtoDir], commandHandlers: { Nope: () => ({}) } }),
    /matches no method/,
  );
});

t.test('the server warns of what the proxy rejects in a CRDT entity: client streaming, no entity key; not server streaming', async (t) => {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
  const entity = new CrdtEntity({ serviceName: 'fixture.model.Actions', protoFiles: ['model.proto'], includeDirs: [fixtures], commandHandlers: {} });
  new CloudstateServer({ entities: [entity], logger });
  const warnings = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
  t.ok(warnings.some((w) => /Actions\.In is streamed: the proxy rejects client-streaming methods/.test(w)), 'client streaming');
  t.notOk(warnings.some((w) => /Actions\.Out is streamed/.test(w)), 'server streaming is fine for CRDT entities');
  t.ok(warnings.some((w) => /Actions\.Out: its input .* has no \(cloudstate\.entity_key\)/.test(w)), 'the missing entity key');
});
