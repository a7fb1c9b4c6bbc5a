/**
 * The TCK CRDT model as a test speaks of it (`cloudstate.tck.model.crdt`): service names,
 * request actions, responses (`X.state(…)` is a `Response` as a plain object), and the deltas and
 * state actions the user function must answer, per CRDT type — the reference TCK's
 * `CrdtEntityTCKModel` helpers. Elements, values and keys are strings, packed as
 * `p.cloudstate.io/string`. Owns no I/O.
 */
import type { Any, CrdtDelta } from '../../../src/protocol/index.js';
import { packPrimitive } from '../../../src/function/index.js';
import { any } from './codec.js';
import { crdt, type CrdtEffects } from './crdt-messages.js';
import { sideEffect } from './protocol-messages.js';

const C = 'cloudstate.tck.model.crdt';

/** A `Response` as a plain object (snake_case). */
export type Response = { state?: Record<string, unknown> };
/** A `RequestAction` as a plain object. */
export type RequestAction = Record<string, unknown>;
/** An `Update` as a plain object. */
export type Update = Record<string, unknown>;

const str = (value: string): Any => packPrimitive(value, 'string');
const requestUpdate = (update: Update): RequestAction => ({ update });
const stateOf = (value: object): Response => ({ state: value as Record<string, unknown> });
/** The update delta of a state action in `fx`. */
const deltaIn = (fx: CrdtEffects): CrdtDelta => fx.stateAction!.update!;

export const crdtModel = {
  service: `${C}.CrdtTckModel`,
  serviceTwo: `${C}.CrdtTwo`,
  serviceConfigured: `${C}.CrdtConfigured`,
  /** A Request as a plain object (for gRPC calls to the proxy). */
  req: (id: string, actions: RequestAction[] = []) => ({ id, actions }),
  /** A Request as an `Any` payload. */
  request: (id: string, actions: RequestAction[] = []): Any => any(`${C}.Request`, { id, actions }),
  /** A StreamedRequest as a plain object (for gRPC calls to the proxy). */
  streamedReq: (id: string, fields: Record<string, unknown> = {}) => ({ id, ...fields }),
  /** A StreamedRequest as an `Any` payload (fields: end_state, cancel_update, effects, initial_update, empty). */
  streamedRequest: (id: string, fields: Record<string, unknown> = {}): Any => any(`${C}.StreamedRequest`, { id, ...fields }),
  response: (response: Response = {}): Any => any(`${C}.Response`, response),
  requestUpdate,
  requestDelete: (): RequestAction => ({ delete: {} }),
  forwardTo: (id: string): RequestAction => ({ forward: { id } }),
  failWith: (message: string): RequestAction => ({ fail: { message } }),
  sideEffectTo: (id: string, synchronous = false): RequestAction => ({ effect: { id, synchronous } }),
  sideEffectsTo: (...ids: string[]): RequestAction[] => ids.map((id) => ({ effect: { id, synchronous: false } })),
  sideEffects: (...ids: string[]): CrdtEffects => ({ sideEffects: ids.map((id) => sideEffect(`${C}.CrdtTwo`, 'Call', any(`${C}.Request`, { id }), false)) }),
  synchronousSideEffects: (...ids: string[]): CrdtEffects => ({ sideEffects: ids.map((id) => sideEffect(`${C}.CrdtTwo`, 'Call', any(`${C}.Request`, { id }), true)) }),
  deleteCrdt: (): CrdtEffects => crdt.deleted(),

  GCounter: {
    state: (value: number): Response => stateOf({ gcounter: { value } }),
    updateWith: (increment: number, write_consistency = 0): Update => ({ gcounter: { increment }, write_consistency }),
    incrementBy: (...increments: number[]): RequestAction[] => increments.map((increment) => requestUpdate({ gcounter: { increment } })),
    delta: (increment: number): CrdtDelta => ({ gcounter: { increment } }),
    update: (increment: number): CrdtEffects => crdt.update({ gcounter: { increment } }),
  },
  PNCounter: {
    state: (value: number): Response => stateOf({ pncounter: { value } }),
    updateWith: (change: number): Update => ({ pncounter: { change } }),
    changeBy: (...changes: number[]): RequestAction[] => changes.map((change) => requestUpdate({ pncounter: { change } })),
    delta: (change: number): CrdtDelta => ({ pncounter: { change } }),
    update: (change: number): CrdtEffects => crdt.update({ pncounter: { change } }),
  },
  GSet: {
    state: (...elements: string[]): Response => stateOf({ gset: { elements } }),
    add: (...elements: string[]): RequestAction[] => elements.map((add) => requestUpdate({ gset: { add } })),
    delta: (...added: string[]): CrdtDelta => ({ gset: { added: added.map(str) } }),
    update: (...added: string[]): CrdtEffects => crdt.update({ gset: { added: added.map(str) } }),
  },
  ORSet: {
    state: (...elements: string[]): Response => stateOf({ orset: { elements } }),
    add: (...elements: string[]): RequestAction[] => elements.map((add) => requestUpdate({ orset: { add } })),
    remove: (...elements: string[]): RequestAction[] => elements.map((remove) => requestUpdate({ orset: { remove } })),
    clear: (): RequestAction[] => [requestUpdate({ orset: { clear: true } })],
    delta: ({ cleared = false, removed = [] as string[], added = [] as string[] } = {}): CrdtDelta => ({ orset: { cleared, removed: removed.map(str), added: added.map(str) } }),
    update: (parts: { cleared?: boolean; removed?: string[]; added?: string[] } = {}): CrdtEffects => crdt.update(crdtModel.ORSet.delta(parts)),
  },
  LWWRegister: {
    state: (value: string): Response => stateOf({ lwwregister: { value } }),
    /** Clock types: 0 DEFAULT, 1 REVERSE, 2 CUSTOM, 3 CUSTOM_AUTO_INCREMENT. */
    setTo: (value: string, clockType = 0, customClockValue = 0): RequestAction[] => [requestUpdate({ lwwregister: { value, clock: { clockType, customClockValue } } })],
    delta: (value: string, clock = 0, customClockValue = 0): CrdtDelta => ({ lwwregister: { value: str(value), clock, custom_clock_value: customClockValue } }),
    update: (value: string, clock = 0, customClockValue = 0): CrdtEffects => crdt.update(crdtModel.LWWRegister.delta(value, clock, customClockValue)),
  },
  Flag: {
    state: (value: boolean): Response => stateOf({ flag: { value } }),
    enable: (): RequestAction[] => [requestUpdate({ flag: {} })],
    delta: (value: boolean): CrdtDelta => ({ flag: { value } }),
    update: (value: boolean): CrdtEffects => crdt.update({ flag: { value } }),
  },
  ORMap: {
    state: (...entries: Array<[string, Response]>): Response => stateOf({ ormap: { entries: entries.map(([key, value]) => ({ key, value: value.state })) } }),
    add: (...keys: string[]): RequestAction[] => keys.map((add) => requestUpdate({ ormap: { add } })),
    /** Updates of entries: each action of the key's list (made by the value type's helpers) applied to the entry. */
    updateWith: (...entries: Array<[string, RequestAction[]]>): RequestAction[] =>
      entries.flatMap(([key, actions]) => actions.map((action) => requestUpdate({ ormap: { update: { key, update: action.update } } }))),
    remove: (...keys: string[]): RequestAction[] => keys.map((remove) => requestUpdate({ ormap: { remove } })),
    clear: (): RequestAction[] => [requestUpdate({ ormap: { clear: true } })],
    delta: ({ cleared = false, removed = [] as string[], updated = [] as Array<[string, CrdtDelta]>, added = [] as Array<[string, CrdtDelta]> } = {}): CrdtDelta => ({
      ormap: {
        cleared,
        removed: removed.map(str),
        updated: updated.map(([key, delta]) => ({ key: str(key), delta })),
        added: added.map(([key, delta]) => ({ key: str(key), delta })),
      },
    }),
    /** The update of entries given as the value types' update effects. */
    update: (parts: { cleared?: boolean; removed?: string[]; updated?: Array<[string, CrdtEffects]>; added?: Array<[string, CrdtEffects]> } = {}): CrdtEffects =>
      crdt.update(
        crdtModel.ORMap.delta({
          cleared: parts.cleared,
          removed: parts.removed,
          updated: (parts.updated ?? []).map(([key, fx]) => [key, deltaIn(fx)]),
          added: (parts.added ?? []).map(([key, fx]) => [key, deltaIn(fx)]),
        }),
      ),
  },
  Vote: {
    state: (selfVote: boolean, votesFor: number, totalVoters: number): Response => stateOf({ vote: { self_vote: selfVote, votes_for: votesFor, total_voters: totalVoters } }),
    updateWith: (vote: boolean): Update => ({ vote: { self_vote: vote } }),
    self: (vote: boolean): RequestAction[] => [requestUpdate({ vote: { self_vote: vote } })],
    delta: (selfVote: boolean, votesFor = 0, totalVoters = 0): CrdtDelta => ({ vote: { self_vote: selfVote, votes_for: votesFor, total_voters: totalVoters } }),
    update: (selfVote: boolean): CrdtEffects => crdt.update({ vote: { self_vote: selfVote } }),
  },
};
