/**
 * The TCK model user function: every TCK model entity this package implements, served by one
 * `CloudstateServer` on 127.0.0.1 and a free port. Model tests talk to it directly (the TCK
 * playing the proxy); proxy tests put the interceptor and the proxy in front of it.
 */
import { createLogger } from '../../../src/core/index.js';
import { CloudstateServer } from '../../../src/function/index.js';
import { EntityType } from '../../../src/protocol/index.js';
import { supportedEntityTypes } from '../../../src/proxy/index.js';
import type { UserFunctionHandle } from '../support/harness.js';
import { actionTckModel, actionTwo } from './action.js';
import { crdtConfigured, crdtTckModel, crdtTwo } from './crdt.js';
import { eventLogSubscriberModel, eventSourcedEntityOne, eventSourcedEntityTwo } from './eventing.js';
import { eventSourcedConfigured, eventSourcedTckModel, eventSourcedTwo } from './event-sourced.js';
import { valueEntityConfigured, valueEntityTckModel, valueEntityTwo } from './value-entity.js';

/**
 * Whether this package's proxy supports CRDT entities (its `ProxyInfo.supported_entity_types`):
 * a proxy that does not rejects a user function serving them at discovery, so the model serves
 * them only then (unless asked), and the CRDT proxy tests skip.
 */
export const proxySupportsCrdt = (supportedEntityTypes as readonly string[]).includes(EntityType.crdt);

export interface ModelOptions {
  /** Serve the CRDT model entities too; default: when this package's proxy supports them. */
  readonly crdt?: boolean;
}

/** Starts the TCK model user function (logs at `warn` unless LOG_LEVEL says otherwise). */
export async function startModelUserFunction(options: ModelOptions = {}): Promise<UserFunctionHandle & { server: CloudstateServer }> {
  const crdt = options.crdt ?? proxySupportsCrdt;
  const server = new CloudstateServer({
    serviceName: 'cloudstate-tck-model',
    entities: [
      actionTckModel(),
      actionTwo(),
      valueEntityTckModel(),
      valueEntityTwo(),
      valueEntityConfigured(),
      eventSourcedTckModel(),
      eventSourcedTwo(),
      eventSourcedConfigured(),
      eventLogSubscriberModel(),
      eventSourcedEntityOne(),
      eventSourcedEntityTwo(),
      ...(crdt ? [crdtTckModel(), crdtTwo(), crdtConfigured()] : []),
    ],
    logger: createLogger({ name: 'tck-model', level: process.env.LOG_LEVEL ?? 'warn' }),
  });
  const port = await server.start({ host: '127.0.0.1', port: 0 });
  return { port, server, stop: () => server.shutdown(500) };
}
