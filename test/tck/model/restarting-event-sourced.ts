/**
 * The event-sourced TCK model (EventSourcedTckModel, EventSourcedTwo, EventSourcedConfigured)
 * written directly against the protocol, with no support library, behaving as the Java support
 * does where this package's library differs: a command that fails after emitting events answers
 * a failure with `restart = true` (its events dropped), so the proxy's restart path — close the
 * stream, open a new one, re-init and replay — is exercised. Its discovery descriptor set is
 * made by protoc when it is installed (as other languages' user functions make theirs), else by
 * this package's descriptor builder.
 *
 * Deliberately small and literal: one state string per stream, a snapshot every 5 events.
 */
import { execFileSync } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { buildDescriptorSet } from '../../../src/function/index.js';
import { EntityType, int64ToNumber, PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION, packageProtoDir } from '../../../src/protocol/index.js';
import type { EventSourcedStreamIn, EventSourcedStreamOut, SideEffect } from '../../../src/protocol/index.js';
import { any, decode, encode, tckProtoDir } from '../support/codec.js';
import type { UserFunctionHandle } from '../support/harness.js';

const PACKAGE = 'cloudstate.tck.model';
const PROTO = 'cloudstate/tck/model/eventsourced.proto';
const SNAPSHOT_EVERY = 5;
const identity = (b: Buffer) => b;

function descriptorSet(): Uint8Array {
  try {
    return execFileSync('protoc', ['-I', tckProtoDir, '-I', packageProtoDir, '--include_imports', '--descriptor_set_out=/dev/stdout', PROTO], { maxBuffer: 1 << 24 });
  } catch {
    return buildDescriptorSet([{ files: [PROTO], includeDirs: [tckProtoDir] }]);
  }
}

function entitySpec(): Uint8Array {
  return encode('cloudstate.EntitySpec', {
    proto: descriptorSet(),
    entities: [
      { entity_type: EntityType.eventSourced, service_name: `${PACKAGE}.EventSourcedTckModel`, persistence_id: 'event-sourced-tck-model' },
      { entity_type: EntityType.eventSourced, service_name: `${PACKAGE}.EventSourcedTwo`, persistence_id: 'event-sourced-tck-model-two' },
      {
        entity_type: EntityType.eventSourced,
        service_name: `${PACKAGE}.EventSourcedConfigured`,
        persistence_id: 'event-sourced-configured',
        passivation_strategy: { timeout: { timeout: 100 } },
      },
    ],
    service_info: {
      service_name: 'tck-restarting-event-sourced',
      support_library_name: 'none (protocol level)',
      protocol_major_version: PROTOCOL_MAJOR_VERSION,
      protocol_minor_version: PROTOCOL_MINOR_VERSION,
    },
  });
}

interface Action {
  emit?: { value?: string };
  forward?: { id?: string };
  effect?: { id?: string; synchronous?: boolean };
  fail?: { message?: string };
}

/** One entity stream: init, replayed events, then commands. */
function handle(call: grpc.ServerDuplexStream<Buffer, Buffer>): void {
  let service = '';
  let state = '';
  let sequence = 0;
  const send = (out: EventSourcedStreamOut) => call.write(Buffer.from(encode('cloudstate.eventsourced.EventSourcedStreamOut', out)));
  const persisted = (value: string) => any(`${PACKAGE}.Persisted`, { value });

  call.on('data', (bytes: Buffer) => {
    const message = decode<EventSourcedStreamIn>('cloudstate.eventsourced.EventSourcedStreamIn', bytes);
    if (message.init) {
      service = message.init.service_name ?? '';
      const snapshot = message.init.snapshot;
      if (snapshot?.snapshot) {
        state = decode<{ value?: string }>(`${PACKAGE}.Persisted`, snapshot.snapshot.value ?? new Uint8Array()).value ?? '';
        sequence = int64ToNumber(snapshot.snapshot_sequence);
      }
    } else if (message.event) {
      state += decode<{ value?: string }>(`${PACKAGE}.Persisted`, message.event.payload?.value ?? new Uint8Array()).value ?? '';
      sequence = int64ToNumber(message.event.sequence);
    } else if (message.command) {
      const commandId = int64ToNumber(message.command.id);
      if (service !== `${PACKAGE}.EventSourcedTckModel`) {
        send({ reply: { command_id: commandId, client_action: { reply: { payload: any(`${PACKAGE}.Response`, {}) } } } });
        return;
      }
      const request = decode<{ id?: string; actions?: Action[] }>(`${PACKAGE}.Request`, message.command.payload?.value ?? new Uint8Array());
      const events: string[] = [];
      const effects: SideEffect[] = [];
      let forward: string | undefined;
      for (const action of request.actions ?? []) {
        if (action.emit) events.push(action.emit.value ?? '');
        else if (action.forward) forward = action.forward.id ?? '';
        else if (action.effect) {
          effects.push({ service_name: `${PACKAGE}.EventSourcedTwo`, command_name: 'Call', payload: any(`${PACKAGE}.Request`, { id: action.effect.id ?? '' }), synchronous: action.effect.synchronous ?? false });
        } else if (action.fail) {
          const description = action.fail.message ?? '';
          send({ reply: { command_id: commandId, client_action: { failure: { command_id: commandId, description, restart: events.length > 0 } } } });
          return;
        }
      }
      const newState = state + events.join('');
      const newSequence = sequence + events.length;
      const snapshot = Math.floor(newSequence / SNAPSHOT_EVERY) > Math.floor(sequence / SNAPSHOT_EVERY) ? persisted(newState) : undefined;
      state = newState;
      sequence = newSequence;
      const clientAction =
        forward !== undefined
          ? { forward: { service_name: `${PACKAGE}.EventSourcedTwo`, command_name: 'Call', payload: any(`${PACKAGE}.Request`, { id: forward }) } }
          : { reply: { payload: any(`${PACKAGE}.Response`, { message: state }) } };
      send({ reply: { command_id: commandId, client_action: clientAction, side_effects: effects, events: events.map(persisted), ...(snapshot ? { snapshot } : {}) } });
    }
  });
  call.on('end', () => call.end());
  call.on('error', () => undefined);
}

const method = (path: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path,
  requestStream,
  responseStream,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

/** Starts this user function on 127.0.0.1 and a free port. */
export async function startRestartingEventSourcedUserFunction(): Promise<UserFunctionHandle> {
  const spec = Buffer.from(entitySpec());
  const server = new grpc.Server();
  server.addService(
    { discover: method('/cloudstate.EntityDiscovery/discover', false, false), reportError: method('/cloudstate.EntityDiscovery/reportError', false, false) },
    {
      discover: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, spec),
      reportError: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, Buffer.alloc(0)),
    },
  );
  server.addService({ handle: method('/cloudstate.eventsourced.EventSourced/handle', true, true) }, { handle });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return { port, stop: async () => server.forceShutdown() };
}
