/**
 * The TCK event-log eventing model implemented with this package's user-function library
 * (proto: cloudstate/tck/model/eventlogeventing.proto; reference: the Java TCK's
 * EventLogSubscriber and its two event-sourced entities):
 *
 * - `EventLogSubscriberModel` (action): `ProcessEventOne` / `ProcessEventTwo` run an event's
 *   steps (reply `Response{id, message}` or forward `EffectRequest{id, message}` to `Effect`),
 *   `ProcessAnyEvent` replies with the `message` of a JSON event; the id is always the
 *   CloudEvent's subject (`ce-subject`: the id of the entity that wrote the event).
 * - `EventSourcedEntityOne` (persistence id `eventlogeventing-one`): `EmitEvent` emits the
 *   request's EventOne or EventTwo as a protobuf event.
 * - `EventSourcedEntityTwo` (persistence id `eventlogeventing-two`): `EmitJsonEvent` emits
 *   `{ type: 'JsonEvent', message }` as a JSON event (`json.cloudstate.io/JsonEvent`; the
 *   `type` property is how this library names a JSON value's type).
 */
import { Action, EventSourcedEntity, unpackPrimitive, type ActionContext, type StreamedActionContext } from '../../../src/function/index.js';
import { tckProtoDir } from '../support/codec.js';

const PACKAGE = 'cloudstate.tck.model.eventlogeventing';
const PROTO = 'cloudstate/tck/model/eventlogeventing.proto';
export const SUBSCRIBER = `${PACKAGE}.EventLogSubscriberModel`;
export const ENTITY_ONE = `${PACKAGE}.EventSourcedEntityOne`;
export const ENTITY_TWO = `${PACKAGE}.EventSourcedEntityTwo`;

interface ProcessStep {
  reply?: { message?: string } | null;
  forward?: { message?: string } | null;
}
interface EmitEventRequest {
  id?: string;
  eventOne?: object | null;
  eventTwo?: object | null;
}

const common = { protoFiles: [PROTO], includeDirs: [tckProtoDir] };
const subjectOf = (ctx: ActionContext | StreamedActionContext): string => {
  const subject = ctx.metadata.get('ce-subject');
  return typeof subject === 'string' ? subject : '';
};

/** `EventLogSubscriberModel`. */
export function eventLogSubscriberModel(): Action {
  return new Action({
    ...common,
    serviceName: SUBSCRIBER,
    commandHandlers: {
      ProcessEventOne(event: { step?: ProcessStep | null }, ctx: ActionContext) {
        const id = subjectOf(ctx);
        const step = event.step ?? {};
        if (step.forward) {
          ctx.forward(SUBSCRIBER, 'Effect', { id, message: step.forward.message ?? '' });
          return undefined;
        }
        return { id, message: step.reply?.message ?? '' };
      },
      ProcessEventTwo(event: { step?: ProcessStep[] }, ctx: StreamedActionContext) {
        const id = subjectOf(ctx);
        for (const step of event.step ?? []) {
          if (step.forward) ctx.forward(SUBSCRIBER, 'Effect', { id, message: step.forward.message ?? '' });
          else ctx.reply({ id, message: step.reply?.message ?? '' });
        }
      },
      Effect: (request: { id?: string; message?: string }) => ({ id: request.id ?? '', message: request.message ?? '' }),
      ProcessAnyEvent(event: { typeUrl?: string; value?: Uint8Array }, ctx: ActionContext) {
        const json = JSON.parse(unpackPrimitive('string', event.value ?? new Uint8Array(0)) as string) as { message?: string };
        return { id: subjectOf(ctx), message: json.message ?? '' };
      },
    },
  });
}

/** `EventSourcedEntityOne`: emits the requested EventOne or EventTwo. */
export function eventSourcedEntityOne(): EventSourcedEntity<object> {
  return new EventSourcedEntity<object>({
    ...common,
    serviceName: ENTITY_ONE,
    persistenceId: 'eventlogeventing-one',
    snapshotEvery: 0,
    initialState: () => ({}),
    eventHandlers: { EventOne: (_event, state: object) => state, EventTwo: (_event, state: object) => state },
    commandHandlers: {
      EmitEvent(request: EmitEventRequest, _state: object, ctx) {
        if (request.eventOne) ctx.emit(request.eventOne);
        else if (request.eventTwo) ctx.emit(request.eventTwo);
        return {};
      },
    },
  });
}

/** `EventSourcedEntityTwo`: emits `{ type: 'JsonEvent', message }` as a JSON event. */
export function eventSourcedEntityTwo(): EventSourcedEntity<object> {
  return new EventSourcedEntity<object>({
    ...common,
    serviceName: ENTITY_TWO,
    persistenceId: 'eventlogeventing-two',
    snapshotEvery: 0,
    initialState: () => ({}),
    eventHandlers: { JsonEvent: (_event, state: object) => state },
    commandHandlers: {
      EmitJsonEvent(request: { message?: string }, _state: object, ctx) {
        ctx.emit({ type: 'JsonEvent', message: request.message ?? '' });
        return {};
      },
    },
  });
}
