// The TCK's own comparison rules (test/tck/support/codec.ts), table-tested: every TCK verdict
// rests on them. Exact like the reference TCK's generated-class equality: proto3 scalar defaults
// equal unset ones whatever the wire says, a present empty sub-message differs from an absent
// one, Any payloads compare by type and decoded content, int64 by value.
import t from 'tap';
import { any, assertSameMessage, canonicalBytes, encode } from './support/codec.js';
import { es, ve } from './support/protocol-messages.js';
import { eventSourcedModel as M } from './support/models.js';

const ES_OUT = 'cloudstate.eventsourced.EventSourcedStreamOut';
const VE_IN = 'cloudstate.valueentity.ValueEntityStreamIn';
const same = (typeName: string, expected: object, wire: Uint8Array, omit: string[] = []) => {
  try {
    assertSameMessage('test', typeName, expected, canonicalBytes(typeName, wire), omit);
    return true;
  } catch {
    return false;
  }
};

t.test('proto3 defaults written on the wire equal unset fields', async (t) => {
  // Persisted{value: ""} with the empty string written explicitly (field 1, length 0).
  const explicitEmpty = { type_url: `type.googleapis.com/${'cloudstate.tck.model.Persisted'}`, value: new Uint8Array([0x0a, 0x00]) };
  const wire = encode(ES_OUT, { reply: { command_id: 1, client_action: { reply: { payload: explicitEmpty } } } });
  t.ok(same(ES_OUT, es.reply(1, M.persisted('')), wire), 'an Any whose payload writes "" equals one that does not');
  const withFalse = encode(ES_OUT, { reply: { command_id: 1, client_action: { failure: { command_id: 1, description: 'x', restart: false } } } });
  t.ok(same(ES_OUT, es.actionFailure(1, 'x'), withFalse), 'restart = false written explicitly equals unset');
});

t.test('presence of sub-messages matters', async (t) => {
  const withoutState = encode(VE_IN, { init: { service_name: 's', entity_id: 'e' } });
  const withEmptyState = encode(VE_IN, { init: { service_name: 's', entity_id: 'e', state: {} } });
  t.ok(same(VE_IN, ve.init('s', 'e'), withEmptyState), 'init with an empty state is what the reference proxy sends');
  t.notOk(same(VE_IN, ve.init('s', 'e'), withoutState), 'an init without state differs');
  const noSnapshot = encode(ES_OUT, { reply: { command_id: 5, client_action: { reply: { payload: M.response('E') } }, events: [M.persisted('E')] } });
  t.notOk(same(ES_OUT, es.reply(5, M.response('E'), M.snapshotAndEvents('E', 'E')), noSnapshot), 'a missing snapshot differs');
});

t.test('Any payloads compare by type and content', async (t) => {
  const wire = encode(ES_OUT, { reply: { command_id: 2, client_action: { reply: { payload: M.response('AB') } } } });
  t.ok(same(ES_OUT, es.reply(2, M.response('AB')), wire), 'same type, same content');
  t.notOk(same(ES_OUT, es.reply(2, M.response('AC')), wire), 'other content');
  t.notOk(same(ES_OUT, es.reply(2, any('cloudstate.tck.model.Persisted', { value: 'AB' })), wire), 'same bytes, other type');
  t.notOk(same(ES_OUT, es.reply(3, M.response('AB')), wire), 'other command id');
});

t.test('a difference is reported with both messages', async (t) => {
  const wire = encode(ES_OUT, { reply: { command_id: 2, client_action: { reply: { payload: M.response('found it') } } } });
  t.throws(() => assertSameMessage('conn', ES_OUT, es.reply(2, M.response('wanted')), canonicalBytes(ES_OUT, wire)), /expected:[\s\S]*wanted[\s\S]*found:[\s\S]*found it/);
});

t.test('only the named top-level fields are left out', async (t) => {
  const COMMAND = 'cloudstate.action.ActionCommand';
  const metadata = { entries: [{ key: 'user-agent', string_value: 'x' }] };
  const wire = encode(COMMAND, { service_name: 's', name: 'n', metadata });
  t.ok(same(COMMAND, { service_name: 's', name: 'n' }, wire, ['metadata']), 'command metadata ignored when asked');
  t.notOk(same(COMMAND, { service_name: 's', name: 'n' }, wire), 'and compared otherwise');
  const RESPONSE = 'cloudstate.action.ActionResponse';
  const withEffectMetadata = encode(RESPONSE, { side_effects: [{ service_name: 's', command_name: 'c', metadata }] });
  t.notOk(same(RESPONSE, { side_effects: [{ service_name: 's', command_name: 'c' }] }, withEffectMetadata, ['metadata']), 'nested metadata is still compared');
});
