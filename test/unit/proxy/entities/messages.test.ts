import t from 'tap';
import { entityMessageSerializer } from '../../../../src/proxy/entities/messages.js';
import type { EntityCommand, UserFunctionReply } from '../../../../src/proxy/entities/messages.js';
import { anyOf, key, msg } from './fake-user-function.js';

const { encode, decode } = entityMessageSerializer;
const bytesOf = (value: unknown) => Buffer.from(encode(value));

t.test('commands and replies survive the trip between nodes', async (t) => {
  const command: EntityCommand = { name: 'Cmd', payload: anyOf('t.Key', key('a-b')) };
  const content = command.name.length + command.payload.type_url!.length + command.payload.value!.byteLength;
  t.ok(encode(command).byteLength - content <= 10, `compact: ${encode(command).byteLength} bytes for ${content} bytes of content`);
  const back = decode(encode(command)) as EntityCommand;
  t.equal(back.name, 'Cmd');
  t.equal(back.payload.type_url, 'type.googleapis.com/t.Key');
  t.same(Buffer.from(back.payload.value!), Buffer.from(key('a-b')));
  const replies: UserFunctionReply[] = [
    { client_action: { reply: { payload: anyOf('t.Msg', msg('hi')), metadata: { entries: [{ key: 'k', string_value: 'v' }, { key: 'b-bin', bytes_value: new Uint8Array([1, 2]) }] } } }, side_effects: [] },
    { client_action: { failure: { description: 'Unexpected entity failure' } }, side_effects: [] },
    {
      client_action: { forward: { service_name: 't.Two', command_name: 'Call', payload: anyOf('t.Msg', msg('x')) } },
      side_effects: [{ service_name: 't.Two', command_name: 'Call', payload: anyOf('t.Msg', msg('e')), synchronous: true }],
    },
    { client_action: undefined, side_effects: [] },
  ];
  for (const reply of replies) {
    const decoded = decode(encode(reply)) as UserFunctionReply;
    t.same(bytesOf(decoded), bytesOf(reply), 'the same message after the trip');
    t.same(Object.keys(decoded.client_action ?? {}).filter((k) => (decoded.client_action as Record<string, unknown>)[k]), Object.keys(reply.client_action ?? {}), 'the same client action');
  }
  const failure = decode(encode(replies[1])) as UserFunctionReply;
  t.equal(failure.client_action?.failure?.description, 'Unexpected entity failure');
  const forward = decode(encode(replies[2])) as UserFunctionReply;
  t.equal(forward.side_effects?.[0]?.synchronous, true);
  t.throws(() => decode(new Uint8Array([9, 1, 2])), /not an entity message/);
});
