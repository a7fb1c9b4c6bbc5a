/**
 * Which event-log subscriptions the user function asks for, read from its methods'
 * `(cloudstate.eventing)` options (pure: the model in, a plan out). After the reference proxy's
 * `EventingManager`: a method of an action with `in.event_log = "<persistence_id>"` consumes
 * the events the event-sourced entities of that persistence id write; the methods of one
 * service on one log share one consumer, whose group defaults to the service's full name.
 *
 * Topics (`in.topic`, `out.topic`) need a Pub/Sub eventing support, which this proxy does not
 * have (the reference's default, `eventing.support = none`): they become problems to log, and
 * the rest of the user function is served all the same. Owns no runtime: ./consumer.ts runs
 * a subscription, ./index.ts starts them.
 */
import { EntityType } from '../../protocol/index.js';
import type { MethodModel, ProxyModel } from '../model.js';

/** One consumer of an event log: one per (event log, consumer group) in the cluster. */
export interface EventLogSubscription {
  /** The persistence id whose events are consumed: the journal tag. */
  readonly eventLog: string;
  /** `in.consumer_group`, else the subscribing service's full name. */
  readonly consumerGroup: string;
  /** The subscribing service's full name. */
  readonly serviceName: string;
  /** The service's methods subscribed to `eventLog`, in declaration order. */
  readonly methods: readonly MethodModel[];
}

export interface EventingPlan {
  readonly subscriptions: readonly EventLogSubscription[];
  /** One message per method whose eventing this proxy cannot serve (to log as an error). */
  readonly problems: readonly string[];
}

/** A field of a decoded option message (undefined when the message is absent). */
const part = (message: unknown, field: string): unknown =>
  message !== null && typeof message === 'object' ? (message as Record<string, unknown>)[field] : undefined;
/** A string field of a decoded option message ('' when unset: oneof members may be null). */
const text = (message: unknown, field: string): string => {
  const value = part(message, field);
  return typeof value === 'string' ? value : '';
};

/** What one method's `(cloudstate.eventing)` option says, as far as this proxy reads it. */
export interface MethodEventing {
  readonly eventLog: string;
  readonly inTopic: string;
  readonly outTopic: string;
  readonly consumerGroup: string;
  /** An `in` was given (even one with no source). */
  readonly hasIn: boolean;
}

/** Reads a decoded `cloudstate.Eventing` (snake_case fields). */
export function methodEventing(eventing: Record<string, unknown> | undefined): MethodEventing {
  const input = part(eventing, 'in');
  const output = part(eventing, 'out');
  return {
    eventLog: text(input, 'event_log'),
    inTopic: text(input, 'topic'),
    outTopic: text(output, 'topic'),
    consumerGroup: text(input, 'consumer_group'),
    hasIn: input !== undefined && input !== null,
  };
}

/** The event-log subscriptions of the model's services, and what cannot be served. */
export function planEventing(model: ProxyModel): EventingPlan {
  const subscriptions: EventLogSubscription[] = [];
  const problems: string[] = [];
  const taken = new Map<string, string>();
  for (const service of model.services.values()) {
    const byLog = new Map<string, { consumerGroup: string; methods: MethodModel[] }>();
    for (const method of service.methods.values()) {
      if (method.eventing === undefined) continue;
      const e = methodEventing(method.eventing);
      const where = `${service.name}.${method.name}`;
      if (e.inTopic) {
        problems.push(`${where} consumes the topic "${e.inTopic}" ((cloudstate.eventing).in.topic), but this proxy has no topic (Pub/Sub) eventing support: the method gets no events from it`);
      }
      if (e.outTopic) {
        problems.push(`${where} publishes to the topic "${e.outTopic}" ((cloudstate.eventing).out.topic), but this proxy has no topic (Pub/Sub) eventing support: its replies are not published`);
      }
      if (e.hasIn && !e.inTopic && !e.eventLog) problems.push(`${where} declares an eventing input with no source (neither topic nor event_log): ignored`);
      if (!e.eventLog) continue;
      if (service.entityType !== EntityType.action) {
        problems.push(`${where} consumes the event log "${e.eventLog}", but only actions consume event logs (${service.name} is ${service.entityType}): ignored`);
        continue;
      }
      const consumerGroup = e.consumerGroup || service.name;
      const group = byLog.get(e.eventLog);
      if (group === undefined) byLog.set(e.eventLog, { consumerGroup, methods: [method] });
      else if (group.consumerGroup !== consumerGroup) {
        problems.push(`${where} consumes the event log "${e.eventLog}" as consumer group "${consumerGroup}", but another method of ${service.name} consumes it as "${group.consumerGroup}": ignored`);
      } else group.methods.push(method);
    }
    for (const [eventLog, { consumerGroup, methods }] of byLog) {
      const key = consumerKey(eventLog, consumerGroup);
      const owner = taken.get(key);
      if (owner !== undefined) {
        problems.push(`${service.name} consumes the event log "${eventLog}" as consumer group "${consumerGroup}", which ${owner} already uses: ignored`);
        continue;
      }
      taken.set(key, service.name);
      subscriptions.push({ eventLog, consumerGroup, serviceName: service.name, methods });
    }
  }
  return { subscriptions, problems };
}

/** `<event_log>/<consumer_group>`: names a consumer in the cluster (its singleton and its saved offset). */
export const consumerKey = (eventLog: string, consumerGroup: string): string => `${eventLog}/${consumerGroup}`;

/** The key-value store key of a consumer's saved offset. */
export const offsetKey = (subscription: Pick<EventLogSubscription, 'eventLog' | 'consumerGroup'>): string =>
  `eventing-offset/${consumerKey(subscription.eventLog, subscription.consumerGroup)}`;
