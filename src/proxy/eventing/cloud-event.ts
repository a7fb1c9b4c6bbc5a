/**
 * Journal events as CloudEvents, and which subscribed method takes one (pure). After the
 * reference proxy's `EventLogEventing.transformEvent` and `EventingManager.entityToCommand`:
 * an event-log event is a CloudEvent whose `id` is its offset, `source` the event log (the
 * tag), `type` the event's type URL, `subject` the entity id, content type
 * `application/vnd.cloudstate.protobuf.any`; its data is the event's bytes, and the user
 * function gets the original `Any` back (type URL and bytes as they were written).
 */
import { ANY_TYPE_NAME, JSON_TYPE_URL_PREFIX, PRIMITIVE_TYPE_URL_PREFIX, typeNameOf } from '../../protocol/index.js';
import type { Any, MetadataEntry } from '../../protocol/index.js';
import type { EventEnvelope } from '../../persistence/index.js';
import type { MethodModel } from '../model.js';

/** The content type of event-log events: the data is an `Any`'s value, `type` its type URL. */
export const PROTOBUF_ANY_CONTENT_TYPE = 'application/vnd.cloudstate.protobuf.any';

/** A CloudEvent (spec 1.0) as the proxy hands it to a subscriber. */
export interface CloudEvent {
  readonly id: string;
  readonly source: string;
  readonly specversion: '1.0';
  readonly type: string;
  readonly datacontenttype: string;
  /** The entity id (the persistence id after its first `|`). */
  readonly subject: string;
  /** When the event was written, ISO-8601 (UTC). */
  readonly time: string;
  readonly data: Uint8Array;
}

/** The entity id of a journal persistence id `<persistence_id>|<entity_id>` ('' when there is no `|`). */
export function entityIdOfPersistenceId(persistenceId: string): string {
  const bar = persistenceId.indexOf('|');
  return bar < 0 ? '' : persistenceId.slice(bar + 1);
}

/** The CloudEvent of one envelope of the event log `eventLog`. */
export function cloudEventOf(envelope: EventEnvelope, eventLog: string): CloudEvent {
  const { event } = envelope;
  return {
    id: String(envelope.offset),
    source: eventLog,
    specversion: '1.0',
    type: event.manifest,
    datacontenttype: PROTOBUF_ANY_CONTENT_TYPE,
    subject: entityIdOfPersistenceId(event.persistenceId),
    time: new Date(event.timestamp).toISOString(),
    data: event.payload,
  };
}

/** The original `Any` of an event-log CloudEvent. */
export const payloadOf = (event: CloudEvent): Any => ({ type_url: event.type, value: event.data });

/**
 * The call's metadata: the CloudEvent in HTTP binary mode (`ce-*` headers and `Content-Type`),
 * in the reference's order.
 */
export function cloudEventMetadata(event: CloudEvent): MetadataEntry[] {
  return [
    { key: 'ce-id', string_value: event.id },
    { key: 'ce-source', string_value: event.source },
    { key: 'ce-specversion', string_value: event.specversion },
    { key: 'ce-type', string_value: event.type },
    { key: 'Content-Type', string_value: event.datacontenttype },
    { key: 'ce-subject', string_value: event.subject },
    { key: 'ce-time', string_value: event.time },
  ];
}

const inputName = (method: MethodModel): string => typeNameOf(method.inputTypeUrl);

/**
 * The subscribed method that takes an event of `typeUrl`: the one whose input type is the
 * event's message type, else the one taking `google.protobuf.Any`. JSON and primitive values
 * (`json.cloudstate.io/…`, `p.cloudstate.io/…`) name no message type: only the `Any` method
 * takes them. Undefined when no method does (the event is skipped).
 */
export function methodForEvent(methods: readonly MethodModel[], typeUrl: string): MethodModel | undefined {
  const anyMethod = methods.find((m) => inputName(m) === ANY_TYPE_NAME);
  if (typeUrl.startsWith(JSON_TYPE_URL_PREFIX) || typeUrl.startsWith(PRIMITIVE_TYPE_URL_PREFIX)) return anyMethod;
  const wanted = typeNameOf(typeUrl);
  return methods.find((m) => inputName(m) === wanted) ?? anyMethod;
}
