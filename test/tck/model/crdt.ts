/**
 * The TCK CRDT model implemented with this package's user-function library: `CrdtTckModel`
 * (persistence id `crdt-tck-model`), `CrdtTwo` (`crdt-tck-model-two`) and `CrdtConfigured`
 * (`crdt-configured`, passivated after 100 ms idle). The CRDT type is the entity id's prefix
 * (`GCounter-1`), ORMap values' types their key's prefix; `Process` applies the request's actions
 * in order and replies with the state, unless it forwarded or failed; `ProcessStreamed` keeps the
 * call open and streams the state after every change (reference: the Java TCK's
 * CrdtTckModelEntity, ../proto/cloudstate/tck/model/crdt.proto).
 */
import {
  CrdtEntity,
  CrdtState,
  Flag,
  GCounter,
  GSet,
  LWWRegister,
  ORMap,
  ORSet,
  PNCounter,
  Vote,
  type Clock,
  type CrdtCommandContext,
  type WriteConsistency,
} from '../../../src/function/index.js';
import { int64ToNumber } from '../../../src/protocol/index.js';
import { tckProtoDir } from '../support/codec.js';

const PACKAGE = 'cloudstate.tck.model.crdt';
const PROTO = 'cloudstate/tck/model/crdt.proto';
const SERVICE_TWO = `${PACKAGE}.CrdtTwo`;

type Int64 = Parameters<typeof int64ToNumber>[0];
// Decoded messages (camelCase); a oneof's virtual field names its case.
interface Update {
  update?: 'gcounter' | 'pncounter' | 'gset' | 'orset' | 'lwwregister' | 'flag' | 'ormap' | 'vote';
  gcounter?: { increment?: Int64 };
  pncounter?: { change?: Int64 };
  gset?: { add?: string };
  orset?: { action?: 'add' | 'remove' | 'clear'; add?: string; remove?: string; clear?: boolean };
  lwwregister?: { value?: string; clock?: { clockType?: number; customClockValue?: Int64 } | null };
  ormap?: { action?: 'add' | 'update' | 'remove' | 'clear'; add?: string; update?: { key?: string; update?: Update | null }; remove?: string; clear?: boolean };
  vote?: { selfVote?: boolean };
  writeConsistency?: number;
}
interface RequestAction {
  action?: 'update' | 'delete' | 'forward' | 'fail' | 'effect';
  update?: Update;
  forward?: { id?: string };
  fail?: { message?: string };
  effect?: { id?: string; synchronous?: boolean };
}
interface Request {
  id?: string;
  actions?: RequestAction[];
}
interface StreamedRequest {
  id?: string;
  endState?: object | null;
  cancelUpdate?: Update | null;
  effects?: Array<{ id?: string; synchronous?: boolean }>;
  initialUpdate?: Update | null;
  empty?: boolean;
}

const CONSISTENCY: readonly WriteConsistency[] = ['local', 'majority', 'all'];

/** A new CRDT of the type named by the prefix of `name`. */
function createCrdt(name: string): CrdtState {
  const type = name.split('-')[0];
  switch (type) {
    case 'GCounter': return new GCounter();
    case 'PNCounter': return new PNCounter();
    case 'GSet': return new GSet<string>();
    case 'ORSet': return new ORSet<string>();
    case 'LWWRegister': return new LWWRegister<string>('');
    case 'Flag': return new Flag();
    case 'ORMap': return new ORMap<string>();
    case 'Vote': return new Vote();
    default: throw new Error(`Unknown CRDT type: ${type}`);
  }
}

function applyUpdate(crdt: CrdtState, update: Update): void {
  switch (update.update) {
    case 'gcounter': (crdt as GCounter).increment(int64ToNumber(update.gcounter!.increment)); break;
    case 'pncounter': (crdt as PNCounter).increment(int64ToNumber(update.pncounter!.change)); break;
    case 'gset': (crdt as GSet<string>).add(update.gset!.add ?? ''); break;
    case 'orset': {
      const set = crdt as ORSet<string>;
      const o = update.orset!;
      if (o.action === 'add') set.add(o.add ?? '');
      else if (o.action === 'remove') set.delete(o.remove ?? '');
      else if (o.action === 'clear' && o.clear) set.clear();
      break;
    }
    case 'lwwregister': {
      const { value = '', clock } = update.lwwregister!;
      const type = (clock?.clockType ?? 0) as Clock;
      const custom = type === 2 || type === 3 ? int64ToNumber(clock?.customClockValue) : 0;
      (crdt as LWWRegister<string>).set(value, type, custom);
      break;
    }
    case 'flag': (crdt as Flag).enable(); break;
    case 'ormap': {
      const map = crdt as ORMap<string>;
      const o = update.ormap!;
      if (o.action === 'add') map.getOrCreate(o.add ?? '', () => createCrdt(o.add ?? ''));
      else if (o.action === 'update') {
        const key = o.update?.key ?? '';
        applyUpdate(map.getOrCreate(key, () => createCrdt(key)), o.update?.update ?? {});
      } else if (o.action === 'remove') map.delete(o.remove ?? '');
      else if (o.action === 'clear' && o.clear) map.clear();
      break;
    }
    case 'vote': (crdt as Vote).vote(update.vote!.selfVote ?? false); break;
    default: break;
  }
}

/** The model's `State` of a CRDT (plain fields), elements and entries sorted. */
export function stateOf(crdt: CrdtState): object {
  if (crdt instanceof GCounter) return { gcounter: { value: crdt.value } };
  if (crdt instanceof PNCounter) return { pncounter: { value: crdt.value } };
  if (crdt instanceof GSet) return { gset: { elements: (crdt.values() as string[]).sort() } };
  if (crdt instanceof ORSet) return { orset: { elements: (crdt.values() as string[]).sort() } };
  if (crdt instanceof LWWRegister) return { lwwregister: { value: crdt.value as string } };
  if (crdt instanceof Flag) return { flag: { value: crdt.value } };
  if (crdt instanceof ORMap) {
    const entries = (crdt.entries() as Array<[string, CrdtState]>).map(([key, value]) => ({ key, value: stateOf(value) }));
    return { ormap: { entries: entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) } };
  }
  if (crdt instanceof Vote) return { vote: { selfVote: crdt.selfVote, votesFor: crdt.votesFor, totalVoters: crdt.totalVoters } };
  throw new Error(`no State for a ${crdt.kind}`);
}

const common = { protoFiles: [PROTO], includeDirs: [tckProtoDir] };

/** `CrdtTckModel`. */
export function crdtTckModel(): CrdtEntity {
  const entity: CrdtEntity = new CrdtEntity({
    ...common,
    serviceName: `${PACKAGE}.CrdtTckModel`,
    persistenceId: 'crdt-tck-model',
    commandHandlers: {
      Process(request: Request, ctx: CrdtCommandContext) {
        const crdt = (ctx.state ??= createCrdt(ctx.entityId));
        let forwarding = false;
        for (const action of request.actions ?? []) {
          switch (action.action) {
            case 'update':
              applyUpdate(crdt, action.update!);
              ctx.writeConsistency = CONSISTENCY[action.update!.writeConsistency ?? 0] ?? 'local';
              break;
            case 'delete': ctx.delete(); break;
            case 'forward':
              forwarding = true;
              ctx.forward(SERVICE_TWO, 'Call', { id: action.forward!.id ?? '' });
              break;
            case 'effect': ctx.effect(SERVICE_TWO, 'Call', { id: action.effect!.id ?? '' }, action.effect!.synchronous ?? false); break;
            case 'fail': ctx.fail(action.fail!.message ?? ''); break;
            default: break;
          }
        }
        return forwarding ? undefined : { state: stateOf(crdt) };
      },
      ProcessStreamed(request: StreamedRequest, ctx: CrdtCommandContext) {
        const crdt = (ctx.state ??= createCrdt(ctx.entityId));
        if (ctx.streamed) {
          const State = entity.lookupType(`${PACKAGE}.State`);
          const endState = request.endState ? Buffer.from(State.encode(request.endState).finish()) : undefined;
          ctx.onStateChange = (state, streamed) => {
            for (const effect of request.effects ?? []) streamed.effect(SERVICE_TWO, 'Call', { id: effect.id ?? '' }, effect.synchronous ?? false);
            if (endState && endState.equals(State.encode(State.fromObject(stateOf(state))).finish())) streamed.endStream();
            return request.empty ? undefined : { state: stateOf(state) };
          };
          const cancelUpdate = request.cancelUpdate;
          if (cancelUpdate) ctx.onStreamCancel = (state) => applyUpdate(state!, cancelUpdate);
        }
        if (request.initialUpdate) applyUpdate(crdt, request.initialUpdate);
        return request.empty ? undefined : { state: stateOf(crdt) };
      },
    },
  });
  return entity;
}

/** `CrdtTwo`: `Call` answers an empty `Response`; a delete action deletes its CRDT. */
export function crdtTwo(): CrdtEntity {
  return new CrdtEntity({
    ...common,
    serviceName: SERVICE_TWO,
    persistenceId: 'crdt-tck-model-two',
    commandHandlers: {
      Call(request: Request, ctx: CrdtCommandContext) {
        if ((request.actions ?? []).some((action) => action.action === 'delete')) ctx.delete();
        return {};
      },
    },
  });
}

/** `CrdtConfigured`: passivation timeout 100 ms; `Call` answers an empty `Response`. */
export function crdtConfigured(): CrdtEntity {
  return new CrdtEntity({
    ...common,
    serviceName: `${PACKAGE}.CrdtConfigured`,
    persistenceId: 'crdt-configured',
    passivationTimeoutMs: 100,
    commandHandlers: { Call: () => ({}) },
  });
}
