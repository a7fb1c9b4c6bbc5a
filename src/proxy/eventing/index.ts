/**
 * Eventing in the proxy: event-log subscriptions (an action's method consuming the events an
 * event-sourced entity type writes, `(cloudstate.eventing).in.event_log`), each run as one
 * cluster singleton named after its event log and consumer group, so exactly one node of the
 * cluster consumes it and a hand-over stops the loop and saves the offset before the next
 * node starts. Topic eventing has no support here: each such method is logged as an error at
 * start-up, and everything else is served.
 *
 * Owns start-up and shutdown only: the plan is ./subscriptions.ts's, the consuming loop
 * ./consumer.ts's.
 */
import { silentLogger } from '../../core/index.js';
import type { Logger } from '../../core/index.js';
import type { SingletonBehavior, SingletonOptions } from '../../cluster/index.js';
import type { Journal, KeyValueStore } from '../../persistence/index.js';
import type { Dispatcher } from '../dispatch.js';
import type { ProxyModel } from '../model.js';
import { EventLogConsumer } from './consumer.js';
import type { EventLogConsumerOptions } from './consumer.js';
import type { EventingSettings } from './settings.js';
import { consumerKey, planEventing } from './subscriptions.js';
import type { EventLogSubscription } from './subscriptions.js';

export { EventLogConsumer, isFailureReply, OFFSET_MANIFEST } from './consumer.js';
export type { EventLogConsumerOptions } from './consumer.js';
export { cloudEventMetadata, cloudEventOf, entityIdOfPersistenceId, methodForEvent, payloadOf, PROTOBUF_ANY_CONTENT_TYPE } from './cloud-event.js';
export type { CloudEvent } from './cloud-event.js';
export { backoffMs, defaultEventingSettings, offsetSaveDue } from './settings.js';
export type { EventingSettings } from './settings.js';
export { consumerKey, methodEventing, offsetKey, planEventing } from './subscriptions.js';
export type { EventingPlan, EventLogSubscription, MethodEventing } from './subscriptions.js';

/** What eventing needs of the cluster: singletons (the `Cluster` has them). */
export interface SingletonHost {
  singleton(options: SingletonOptions<never, never>): { close(): Promise<void> };
}

export interface EventingOptions extends Omit<EventLogConsumerOptions, 'subscription' | 'logger'> {
  readonly model: ProxyModel;
  readonly cluster: SingletonHost;
  /** Every consumer's timing (the proxy's --eventing-* flags); unset fields are the defaults. */
  readonly settings?: Partial<EventingSettings>;
  readonly logger?: Logger;
}

export interface Eventing {
  /** The subscriptions consumed (on whichever node hosts each). */
  readonly subscriptions: readonly EventLogSubscription[];
  /** Stops every consumer hosted here (saving its offset) and leaves the singletons. */
  stop(): Promise<void>;
}

/** Plans the user function's eventing, logs what cannot be served, and starts a singleton per subscription. */
export function startEventing(options: EventingOptions): Eventing {
  const log = options.logger ?? silentLogger;
  const plan = planEventing(options.model);
  for (const problem of plan.problems) log.error(problem);
  let subscriptions = plan.subscriptions;
  if (subscriptions.length > 0 && !options.journal.capabilities.eventsByTag) {
    for (const s of subscriptions) {
      const methods = s.methods.map((m) => `${m.serviceName}.${m.name}`).join(', ');
      log.error(`${methods} consume${s.methods.length === 1 ? 's' : ''} the event log "${s.eventLog}", but this store cannot query events by tag: not consumed`);
    }
    subscriptions = [];
  }
  const singletons = subscriptions.map((subscription) =>
    options.cluster.singleton({
      name: `eventing/${consumerKey(subscription.eventLog, subscription.consumerGroup)}`,
      create: (): SingletonBehavior<never, never> => {
        const consumer = new EventLogConsumer({ ...options, subscription, logger: log });
        consumer.start();
        return { receive: () => undefined as never, stop: () => consumer.stop() };
      },
    }),
  );
  let stopping: Promise<void> | undefined;
  return {
    subscriptions,
    stop: () => (stopping ??= Promise.all(singletons.map((s) => s.close())).then(() => undefined)),
  };
}
