/**
 * The TCK playing the proxy: a client of a user function's protocol services, for the model
 * tests that check a support library against the TCK models. It sends the messages a test
 * writes and checks that the user function answers exactly what the test expects:
 *
 *   await protocol.eventSourced.connect()
 *     .send(es.init(service, id))
 *     .send(es.command(1, id, 'Process', request))
 *     .expect(es.reply(1, response))
 *     .passivate();
 *
 * Comparison is that of ./codec.ts (exact, semantic). Nothing here knows a model.
 */
import { decode } from './codec.js';
import { GrpcCalls, type CallChain } from './grpc-calls.js';
import type { ActionCommand, EntitySpec, ProxyInfo } from '../../../src/protocol/index.js';
import { PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION, EntityType } from '../../../src/protocol/index.js';

/** What the TCK tells the user function about itself in discovery. */
export const tckProxyInfo: ProxyInfo = {
  protocol_major_version: PROTOCOL_MAJOR_VERSION,
  protocol_minor_version: PROTOCOL_MINOR_VERSION,
  proxy_name: 'cloudstate-tck',
  proxy_version: '0.0.0',
  supported_entity_types: [EntityType.action, EntityType.crdt, EntityType.eventSourced, EntityType.valueEntity],
};

const ES = { in: 'cloudstate.eventsourced.EventSourcedStreamIn', out: 'cloudstate.eventsourced.EventSourcedStreamOut' };
const VE = { in: 'cloudstate.valueentity.ValueEntityStreamIn', out: 'cloudstate.valueentity.ValueEntityStreamOut' };
const CRDT = { in: 'cloudstate.crdt.CrdtStreamIn', out: 'cloudstate.crdt.CrdtStreamOut' };
const ACTION = { in: 'cloudstate.action.ActionCommand', out: 'cloudstate.action.ActionResponse' };

/** A client of one user function's protocol services. */
export class TestProtocol {
  readonly #calls: GrpcCalls;

  constructor(readonly address: string) {
    this.#calls = new GrpcCalls(address);
  }

  /** Calls `EntityDiscovery.discover`; resolves with the decoded spec (int64 as numbers). */
  async discover(info: ProxyInfo = tckProxyInfo): Promise<EntitySpec> {
    const call = await this.#calls.unary('/cloudstate.EntityDiscovery/discover', 'cloudstate.ProxyInfo', 'cloudstate.EntitySpec', info);
    return (await call.nextMessage()) as EntitySpec;
  }

  /** Calls `EntityDiscovery.reportError`; resolves when the user function answered. */
  async reportError(message: string): Promise<void> {
    const call = await this.#calls.unary('/cloudstate.EntityDiscovery/reportError', 'cloudstate.UserFunctionError', 'google.protobuf.Empty', { message });
    await call.nextMessage();
  }

  readonly eventSourced = {
    /** Opens an `EventSourced.handle` stream. */
    connect: (): CallChain => this.#calls.bidi('/cloudstate.eventsourced.EventSourced/handle', ES.in, ES.out),
  };

  readonly valueEntity = {
    /** Opens a `ValueEntity.handle` stream. */
    connect: (): CallChain => this.#calls.bidi('/cloudstate.valueentity.ValueEntity/handle', VE.in, VE.out),
  };

  readonly crdt = {
    /** Opens a `Crdt.handle` stream. */
    connect: (): CallChain => this.#calls.bidi('/cloudstate.crdt.Crdt/handle', CRDT.in, CRDT.out),
  };

  readonly action = {
    /** `handleUnary(command)`; expect the response (or `expectError`) on the chain. */
    unary: (command: ActionCommand): CallChain => this.#calls.unary('/cloudstate.action.ActionProtocol/handleUnary', ACTION.in, ACTION.out, command),
    /** `handleStreamedIn`: send the header, then payload messages, `complete()`, expect the response. */
    connectIn: (): CallChain => this.#calls.clientStream('/cloudstate.action.ActionProtocol/handleStreamedIn', ACTION.in, ACTION.out),
    /** `handleStreamedOut(command)`: expect the responses, then `expectClosed()`. */
    connectOut: (command: ActionCommand): CallChain => this.#calls.serverStream('/cloudstate.action.ActionProtocol/handleStreamedOut', ACTION.in, ACTION.out, command),
    /** `handleStreamed`: send the header, then send and expect, `complete()`, `expectClosed()`. */
    connect: (): CallChain => this.#calls.bidi('/cloudstate.action.ActionProtocol/handleStreamed', ACTION.in, ACTION.out),
  };

  /** Cancels every call still open and closes the channel. */
  close(): void {
    this.#calls.close();
  }
}

/** Decodes an `EntitySpec`'s descriptor set: the full names of the services it declares. */
export function servicesInDescriptorSet(proto: Uint8Array): string[] {
  const set = decode<{ file?: Array<{ package?: string; service?: Array<{ name?: string }> }> }>('google.protobuf.FileDescriptorSet', proto);
  return (set.file ?? []).flatMap((file) => (file.service ?? []).map((service) => (file.package ? `${file.package}.${service.name}` : `${service.name}`)));
}
