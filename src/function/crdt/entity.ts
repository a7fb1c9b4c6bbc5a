/**
 * `CrdtEntity`: the user-facing CRDT entity type (protocol `cloudstate.crdt.Crdt`). Its state is
 * one CRDT (./state.ts and the types beside it), replicated by the proxy across its nodes;
 * command handlers read and change it through `ctx.state`. One instance per `handle` stream
 * (./instance.ts); the stream plumbing lives in ./stream.ts.
 */
import { EntityType, type CrdtInit, type Entity as ProtocolEntity } from '../../protocol/index.js';
import type { ServiceRegistry } from '../context.js';
import { Entity, statefulDiscovery, type StatefulEntityOptions } from '../entity.js';
import type { CrdtCommandContext } from './context.js';
import { CrdtInstance } from './instance.js';
import type { CrdtState } from './state.js';

/** Handles one command: returns the reply (a plain object or message of the method's output type), or nothing. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CrdtCommandHandler<S extends CrdtState = CrdtState> = (command: any, ctx: CrdtCommandContext<S>) => unknown;

export interface CrdtEntityOptions<S extends CrdtState = CrdtState> extends StatefulEntityOptions {
  /** Command handlers by method name. Server-streaming methods may keep the call open (`ctx.onStateChange`). */
  readonly commandHandlers: Readonly<Record<string, CrdtCommandHandler<S>>>;
  /** Called when an instance's state object is set: from the proxy's initial state or first delta, by `ctx.state = …`, or again after a failed command rolled it back. */
  readonly onStateSet?: (state: S, entityId: string) => void;
  /** Called after every change of an instance's state: a command's (when it succeeded) or one replicated from another node. */
  readonly onStateChange?: (state: S, entityId: string) => void;
}

/** A CRDT entity type, served by a `CloudstateServer`. */
export class CrdtEntity<S extends CrdtState = CrdtState> extends Entity {
  readonly entityType = EntityType.crdt;

  constructor(readonly options: CrdtEntityOptions<S>) {
    super(options);
    for (const [name, method] of this.handledMethods(options.commandHandlers)) {
      if (method.requestStream) throw new Error(`entity ${this.serviceName}: ${name} is client-streaming; CRDT entities take one request per command`);
    }
  }

  toDiscovery(): ProtocolEntity {
    return statefulDiscovery(this, this.entityType, this.options);
  }

  /** @internal an instance for one `handle` stream, from its init message. */
  instance(init: CrdtInit, registry: ServiceRegistry): CrdtInstance<S> {
    return new CrdtInstance(this, init, registry);
  }
}
