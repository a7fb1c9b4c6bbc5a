/**
 * CRDT protocol messages (`cloudstate.crdt.CrdtStreamIn/Out`) as a TCK test writes them, and
 * the sorting the reference TCK applies before comparing replies (`Delta.sorted`): the elements
 * of set deltas and the keys of map deltas come in the user function's order, so both sides are
 * compared with them sorted (by their string value). Mirrors the reference testkit's
 * `CrdtMessages`. Owns no I/O.
 */
import type { Any, CrdtDelta, CrdtStateAction, CrdtStreamIn, CrdtStreamOut, SideEffect } from '../../../src/protocol/index.js';
import { protobuf } from '../../../src/protocol/index.js';
import { unpackPrimitive } from '../../../src/function/index.js';
import { emptyPayload } from './protocol-messages.js';

/** What a CRDT reply, streamed message or cancellation response carries besides its client action. */
export interface CrdtEffects {
  stateAction?: CrdtStateAction;
  sideEffects?: SideEffect[];
  streamed?: boolean;
  endStream?: boolean;
}

/** Merges effects (the reference's `++`): the first state action, side effects appended, flags or-ed. */
export function crdtEffects(...parts: CrdtEffects[]): CrdtEffects {
  const out: CrdtEffects = {};
  for (const part of parts) {
    out.stateAction ??= part.stateAction;
    if (part.sideEffects) out.sideEffects = [...(out.sideEffects ?? []), ...part.sideEffects];
    if (part.streamed) out.streamed = true;
    if (part.endStream) out.endStream = true;
  }
  return out;
}

const WRITE_CONSISTENCY = { local: 0, majority: 1, all: 2 } as const;

function crdtReply(id: number, clientAction: object | undefined, fx: CrdtEffects): CrdtStreamOut {
  return {
    reply: {
      command_id: id,
      ...(clientAction ? { client_action: clientAction } : {}),
      side_effects: fx.sideEffects ?? [],
      ...(fx.stateAction ? { state_action: fx.stateAction } : {}),
      streamed: fx.streamed ?? false,
    },
  };
}

/** CRDT entity messages (`cloudstate.crdt`). */
export const crdt = {
  init(serviceName: string, entityId: string, delta?: CrdtDelta): CrdtStreamIn {
    return { init: { service_name: serviceName, entity_id: entityId, ...(delta ? { delta } : {}) } };
  },
  delta(delta: CrdtDelta): CrdtStreamIn {
    return { delta };
  },
  delete(): CrdtStreamIn {
    return { delete: {} };
  },
  command(id: number, entityId: string, name: string, payload: Any = emptyPayload, streamed = false): CrdtStreamIn {
    return { command: { entity_id: entityId, id, name, payload, streamed } };
  },
  streamCancelled(id: number, entityId: string): CrdtStreamIn {
    return { stream_cancelled: { entity_id: entityId, id } };
  },
  reply(id: number, payload: Any, fx: CrdtEffects = {}): CrdtStreamOut {
    return crdtReply(id, { reply: { payload } }, fx);
  },
  /** A reply without a client action (a streamed call that answers nothing yet). */
  noReply(id: number, fx: CrdtEffects = {}): CrdtStreamOut {
    return crdtReply(id, undefined, fx);
  },
  forward(id: number, service: string, name: string, payload: Any, fx: CrdtEffects = {}): CrdtStreamOut {
    return crdtReply(id, { forward: { service_name: service, command_name: name, payload } }, fx);
  },
  /** A reply whose client action is a failure of the command. */
  failure(id: number, description: string): CrdtStreamOut {
    return crdtReply(id, { failure: { command_id: id, description } }, {});
  },
  streamed(id: number, payload: Any, fx: CrdtEffects = {}): CrdtStreamOut {
    return { streamed_message: { command_id: id, client_action: { reply: { payload } }, side_effects: fx.sideEffects ?? [], end_stream: fx.endStream ?? false } };
  },
  streamCancelledResponse(id: number, fx: CrdtEffects = {}): CrdtStreamOut {
    return { stream_cancelled_response: { command_id: id, side_effects: fx.sideEffects ?? [], ...(fx.stateAction ? { state_action: fx.stateAction } : {}) } };
  },
  /** Effects: the state updated by `delta`, with a write consistency. */
  update(delta: CrdtDelta, consistency: keyof typeof WRITE_CONSISTENCY = 'local'): CrdtEffects {
    return { stateAction: { update: delta, write_consistency: WRITE_CONSISTENCY[consistency] } };
  },
  /** Effects: the CRDT deleted. */
  deleted(): CrdtEffects {
    return { stateAction: { delete: {} } };
  },
  streamedFx(): CrdtEffects {
    return { streamed: true };
  },
  endStream(): CrdtEffects {
    return { endStream: true };
  },
};

// ---- sorting, as the reference TCK's Delta.sorted ----

/** The sort key of an element or map key: its string value when it is a `p.cloudstate.io/string`. */
function sortKey(any: Any | null | undefined): string {
  const url = any?.type_url ?? '';
  const bytes = any?.value ?? new Uint8Array(0);
  if (url === 'p.cloudstate.io/string') return unpackPrimitive('string', bytes) as string;
  return `${url}|${Buffer.from(bytes).toString('base64')}`;
}

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const sortAnys = (items: Any[] | undefined) => items?.sort((a, b) => byKey(sortKey(a), sortKey(b)));

/** Sorts, in place, the elements and keys of a delta (nested map values too). */
export function sortDelta(delta: CrdtDelta | null | undefined): void {
  if (!delta) return;
  sortAnys(delta.gset?.added);
  sortAnys(delta.orset?.removed);
  sortAnys(delta.orset?.added);
  if (delta.ormap) {
    sortAnys(delta.ormap.removed);
    for (const entries of [delta.ormap.updated, delta.ormap.added]) {
      for (const entry of entries ?? []) sortDelta(entry.delta);
      entries?.sort((a, b) => byKey(sortKey(a.key), sortKey(b.key)));
    }
  }
}

/** Sorts, in place, the delta of a reply's state action (what `Delta.sorted` does). */
export function sortReply(out: CrdtStreamOut | protobuf.Message): void {
  sortDelta((out as CrdtStreamOut).reply?.state_action?.update);
}
