import t from 'tap';
import { EntityType } from '../../../../src/protocol/index.js';
import { buildProxyModel } from '../../../../src/proxy/descriptors.js';
import { modelProblems } from '../../../../src/proxy/validation.js';
import { descriptorSetOf, stringField } from '../entities/fake-user-function.js';
import { crdtModel } from './harness.js';

const field = stringField;
const method = (name: string, input: string, extra: object = {}) => ({ name, input_type: `.v.${input}`, output_type: '.v.Key', ...extra });
const file = {
  name: 'v/v.proto',
  package: 'v',
  dependency: ['cloudstate/entity_key.proto'],
  syntax: 'proto3',
  message_type: [
    { name: 'Key', field: [field('id', 1, { '.cloudstate.entity_key': true })] },
    { name: 'Plain', field: [field('id', 1)] },
  ],
  service: [
    {
      name: 'C',
      method: [
        method('Unary', 'Key'),
        method('Out', 'Key', { server_streaming: true }),
        method('In', 'Key', { client_streaming: true }),
        method('Bidi', 'Key', { client_streaming: true, server_streaming: true }),
        method('Keyless', 'Plain'),
      ],
    },
  ],
};

t.test('CRDT discovery rules: server streaming allowed, client streaming refused, keys required', async (t) => {
  t.same(modelProblems(crdtModel()), [], 'unary and server-streaming CRDT methods with keys are fine');
  const model = buildProxyModel({ proto: descriptorSetOf([file]), entities: [{ entity_type: EntityType.crdt, service_name: 'v.C' }], service_info: { protocol_major_version: 0, protocol_minor_version: 2 } });
  t.same(
    modelProblems(model).map((p) => p.split(':')[0]),
    ['Method v.C.In is client streaming, but v.C is a CRDT entity, whose commands are one request each (server streaming is allowed)', 'Method v.C.Bidi is bidirectional streaming, but v.C is a CRDT entity, whose commands are one request each (server streaming is allowed)', 'Method v.C.Keyless has no entity key'],
  );
});
