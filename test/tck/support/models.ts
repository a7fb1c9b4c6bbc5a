/**
 * The TCK models as a test speaks of them: service names, persistence ids, and builders for
 * their requests and payloads (as `Any` values ready for protocol messages), mirroring the
 * reference TCK's helpers (`replyWith`, `forwardTo`, `sideEffectTo`, `emitEvent`, …).
 * Owns no I/O.
 */
import type { Any, SideEffect } from '../../../src/protocol/index.js';
import { any } from './codec.js';
import { sideEffect, type EntityEffects } from './protocol-messages.js';

// ---- action model (cloudstate.tck.model.action) ----

const A = 'cloudstate.tck.model.action';

/** A step of an action model request. */
export type ProcessStep = { reply: { message: string } } | { forward: { id: string } } | { fail: { message: string } } | { effect: { id: string; synchronous: boolean } };
export interface ProcessGroup {
  steps: ProcessStep[];
}
export interface ActionRequest {
  groups: ProcessGroup[];
}

export const actionModel = {
  service: `${A}.ActionTckModel`,
  serviceTwo: `${A}.ActionTwo`,
  /** A request of one group with `steps`. */
  single: (...steps: ProcessStep[]): ActionRequest => ({ groups: [{ steps }] }),
  request: (...groups: ProcessGroup[]): ActionRequest => ({ groups }),
  group: (...steps: ProcessStep[]): ProcessGroup => ({ steps }),
  replyWith: (message: string): ProcessStep => ({ reply: { message } }),
  forwardTo: (id: string): ProcessStep => ({ forward: { id } }),
  failWith: (message: string): ProcessStep => ({ fail: { message } }),
  sideEffectTo: (id: string, synchronous = false): ProcessStep => ({ effect: { id, synchronous } }),
  /** The request as an `Any` payload. */
  requestPayload: (request: ActionRequest): Any => any(`${A}.Request`, request),
  response: (message = ''): Any => any(`${A}.Response`, { message }),
  otherRequest: (id: string): Any => any(`${A}.OtherRequest`, { id }),
  /** Asynchronous side effects to ActionTwo.Call, one per id. */
  sideEffects: (...ids: string[]): SideEffect[] => ids.map((id) => sideEffect(`${A}.ActionTwo`, 'Call', any(`${A}.OtherRequest`, { id }), false)),
  synchronousSideEffects: (...ids: string[]): SideEffect[] => ids.map((id) => sideEffect(`${A}.ActionTwo`, 'Call', any(`${A}.OtherRequest`, { id }), true)),
};

// ---- value entity model (cloudstate.tck.model.valueentity) ----

const V = 'cloudstate.tck.model.valueentity';

export type ValueEntityAction = { update: { value: string } } | { delete: Record<string, never> } | { forward: { id: string } } | { effect: { id: string; synchronous: boolean } } | { fail: { message: string } };

export const valueEntityModel = {
  service: `${V}.ValueEntityTckModel`,
  serviceTwo: `${V}.ValueEntityTwo`,
  serviceConfigured: `${V}.ValueEntityConfigured`,
  persistenceId: 'value-entity-tck-model',
  persistenceIdTwo: 'value-entity-tck-model-two',
  persistenceIdConfigured: 'value-entity-configured',
  /** A Request as a plain object (for gRPC calls to the proxy). */
  req: (id: string, actions: ValueEntityAction[] = []) => ({ id, actions }),
  /** A Request as an `Any` payload (for protocol messages). */
  request: (id: string, actions: ValueEntityAction[] = []): Any => any(`${V}.Request`, { id, actions }),
  response: (message = ''): Any => any(`${V}.Response`, { message }),
  persisted: (value: string): Any => any(`${V}.Persisted`, { value }),
  updateState: (value: string): ValueEntityAction => ({ update: { value } }),
  updateStates: (...values: string[]): ValueEntityAction[] => values.map((value) => ({ update: { value } })),
  deleteState: (): ValueEntityAction => ({ delete: {} }),
  forwardTo: (id: string): ValueEntityAction => ({ forward: { id } }),
  sideEffectTo: (id: string, synchronous = false): ValueEntityAction => ({ effect: { id, synchronous } }),
  failWith: (message: string): ValueEntityAction => ({ fail: { message } }),
  /** Effects: the state updated to Persisted{value}. */
  update: (value: string): EntityEffects => ({ stateAction: { update: { value: any(`${V}.Persisted`, { value }) } } }),
  delete: (): EntityEffects => ({ stateAction: { delete: {} } }),
  sideEffects: (...ids: string[]): EntityEffects => ({ sideEffects: ids.map((id) => sideEffect(`${V}.ValueEntityTwo`, 'Call', any(`${V}.Request`, { id }), false)) }),
  synchronousSideEffects: (...ids: string[]): EntityEffects => ({ sideEffects: ids.map((id) => sideEffect(`${V}.ValueEntityTwo`, 'Call', any(`${V}.Request`, { id }), true)) }),
};

// ---- event-sourced model (cloudstate.tck.model) ----

const E = 'cloudstate.tck.model';

export type EventSourcedAction = { emit: { value: string } } | { forward: { id: string } } | { effect: { id: string; synchronous: boolean } } | { fail: { message: string } };

export const eventSourcedModel = {
  service: `${E}.EventSourcedTckModel`,
  serviceTwo: `${E}.EventSourcedTwo`,
  serviceConfigured: `${E}.EventSourcedConfigured`,
  persistenceId: 'event-sourced-tck-model',
  persistenceIdTwo: 'event-sourced-tck-model-two',
  persistenceIdConfigured: 'event-sourced-configured',
  req: (id: string, actions: EventSourcedAction[] = []) => ({ id, actions }),
  request: (id: string, actions: EventSourcedAction[] = []): Any => any(`${E}.Request`, { id, actions }),
  response: (message = ''): Any => any(`${E}.Response`, { message }),
  persisted: (value: string): Any => any(`${E}.Persisted`, { value }),
  emitEvent: (value: string): EventSourcedAction => ({ emit: { value } }),
  emitEvents: (...values: string[]): EventSourcedAction[] => values.map((value) => ({ emit: { value } })),
  forwardTo: (id: string): EventSourcedAction => ({ forward: { id } }),
  sideEffectTo: (id: string, synchronous = false): EventSourcedAction => ({ effect: { id, synchronous } }),
  sideEffectsTo: (...ids: string[]): EventSourcedAction[] => ids.map((id) => ({ effect: { id, synchronous: false } })),
  failWith: (message: string): EventSourcedAction => ({ fail: { message } }),
  /** Effects: these events (Persisted values). */
  events: (...values: string[]): EntityEffects => ({ events: values.map((value) => any(`${E}.Persisted`, { value })) }),
  /** Effects: these events and a snapshot of `snapshot`. */
  snapshotAndEvents: (snapshot: string, ...values: string[]): EntityEffects => ({
    events: values.map((value) => any(`${E}.Persisted`, { value })),
    snapshot: any(`${E}.Persisted`, { value: snapshot }),
  }),
  sideEffects: (...ids: string[]): EntityEffects => ({ sideEffects: ids.map((id) => sideEffect(`${E}.EventSourcedTwo`, 'Call', any(`${E}.Request`, { id }), false)) }),
  synchronousSideEffects: (...ids: string[]): EntityEffects => ({ sideEffects: ids.map((id) => sideEffect(`${E}.EventSourcedTwo`, 'Call', any(`${E}.Request`, { id }), true)) }),
};

/** Entity ids unique within a test file run. */
export function entityIds(prefix = 'entity'): () => string {
  let n = 0;
  return () => `${prefix}-${++n}`;
}
