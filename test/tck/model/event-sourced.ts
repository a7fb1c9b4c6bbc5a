/**
 * The TCK event-sourced model implemented with this package's user-function library:
 * `EventSourcedTckModel` (persistence id `event-sourced-tck-model`, a snapshot every 5 events),
 * `EventSourcedTwo` (`event-sourced-tck-model-two`) and `EventSourcedConfigured`
 * (`event-sourced-configured`, passivated after 100 ms idle). Events and snapshots are
 * `Persisted{value}`; an event appends its value to the state, a snapshot replaces it.
 * `Process` applies the request's actions in order and replies with the state after them,
 * unless it forwarded or failed (reference: the Java TCK's EventSourcedTckModelEntity).
 */
import { EventSourcedEntity, type EventSourcedCommandContext } from '../../../src/function/index.js';
import { tckProtoDir } from '../support/codec.js';

const PACKAGE = 'cloudstate.tck.model';
const PROTO = 'cloudstate/tck/model/eventsourced.proto';
const PERSISTED = `${PACKAGE}.Persisted`;
const SERVICE_TWO = `${PACKAGE}.EventSourcedTwo`;

interface Persisted {
  value?: string;
}
interface RequestAction {
  emit?: { value?: string } | null;
  forward?: { id?: string } | null;
  effect?: { id?: string; synchronous?: boolean } | null;
  fail?: { message?: string } | null;
}
interface Request {
  id?: string;
  actions?: RequestAction[];
}

const common = {
  protoFiles: [PROTO],
  includeDirs: [tckProtoDir],
  stateType: PERSISTED,
  initialState: (): Persisted => ({ value: '' }),
  snapshotHandler: (snapshot: unknown): Persisted => ({ value: (snapshot as Persisted).value ?? '' }),
};

/** `EventSourcedTckModel`. */
export function eventSourcedTckModel(): EventSourcedEntity<Persisted> {
  const entity: EventSourcedEntity<Persisted> = new EventSourcedEntity<Persisted>({
    ...common,
    serviceName: `${PACKAGE}.EventSourcedTckModel`,
    persistenceId: 'event-sourced-tck-model',
    snapshotEvery: 5,
    eventHandlers: {
      Persisted: (event: Persisted, state: Persisted): Persisted => ({ value: (state.value ?? '') + (event.value ?? '') }),
    },
    commandHandlers: {
      Process(request: Request, _state: Persisted, ctx: EventSourcedCommandContext<Persisted>) {
        let forwarding = false;
        for (const action of request.actions ?? []) {
          if (action.emit) {
            ctx.emit(entity.message(PERSISTED, { value: action.emit.value ?? '' }));
          } else if (action.forward) {
            forwarding = true;
            ctx.forward(SERVICE_TWO, 'Call', { id: action.forward.id ?? '' });
          } else if (action.effect) {
            ctx.effect(SERVICE_TWO, 'Call', { id: action.effect.id ?? '' }, action.effect.synchronous ?? false);
          } else if (action.fail) {
            ctx.fail(action.fail.message ?? '');
          }
        }
        return forwarding ? undefined : { message: ctx.state.value ?? '' };
      },
    },
  });
  return entity;
}

/** `EventSourcedTwo`: `Call` answers an empty `Response`. */
export function eventSourcedTwo(): EventSourcedEntity<Persisted> {
  return new EventSourcedEntity<Persisted>({
    ...common,
    serviceName: SERVICE_TWO,
    persistenceId: 'event-sourced-tck-model-two',
    eventHandlers: {},
    commandHandlers: { Call: () => ({}) },
  });
}

/** `EventSourcedConfigured`: passivation timeout 100 ms; `Call` answers an empty `Response`. */
export function eventSourcedConfigured(): EventSourcedEntity<Persisted> {
  return new EventSourcedEntity<Persisted>({
    ...common,
    serviceName: `${PACKAGE}.EventSourcedConfigured`,
    persistenceId: 'event-sourced-configured',
    passivationTimeoutMs: 100,
    eventHandlers: {},
    commandHandlers: { Call: () => ({}) },
  });
}
