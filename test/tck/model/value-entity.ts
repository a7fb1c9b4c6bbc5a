/**
 * The TCK value entity model implemented with this package's user-function library:
 * `ValueEntityTckModel` (persistence id `value-entity-tck-model`), `ValueEntityTwo`
 * (`value-entity-tck-model-two`) and `ValueEntityConfigured` (`value-entity-configured`,
 * passivated after 100 ms idle). The state is a `Persisted{value}`; `Process` applies the
 * request's actions in order and replies with the value left, unless it forwarded or failed
 * (reference: the Java TCK's ValueEntityTckModelEntity).
 */
import { ValueEntity, type ValueEntityCommandContext } from '../../../src/function/index.js';
import { tckProtoDir } from '../support/codec.js';

const PACKAGE = 'cloudstate.tck.model.valueentity';
const PROTO = 'cloudstate/tck/model/valueentity.proto';
const SERVICE_TWO = `${PACKAGE}.ValueEntityTwo`;

interface Persisted {
  value?: string;
}
interface RequestAction {
  update?: { value?: string } | null;
  delete?: object | null;
  forward?: { id?: string } | null;
  effect?: { id?: string; synchronous?: boolean } | null;
  fail?: { message?: string } | null;
}
interface Request {
  id?: string;
  actions?: RequestAction[];
}

const common = { protoFiles: [PROTO], includeDirs: [tckProtoDir], stateType: `${PACKAGE}.Persisted`, initialState: (): Persisted => ({ value: '' }) };

/** `ValueEntityTckModel`. */
export function valueEntityTckModel(): ValueEntity<Persisted> {
  return new ValueEntity<Persisted>({
    ...common,
    serviceName: `${PACKAGE}.ValueEntityTckModel`,
    persistenceId: 'value-entity-tck-model',
    commandHandlers: {
      Process(request: Request, state: Persisted, ctx: ValueEntityCommandContext<Persisted>) {
        let value = state.value ?? '';
        let forwarding = false;
        for (const action of request.actions ?? []) {
          if (action.update) {
            value = action.update.value ?? '';
            ctx.updateState({ value });
          } else if (action.delete) {
            ctx.deleteState();
            value = '';
          } else if (action.forward) {
            forwarding = true;
            ctx.forward(SERVICE_TWO, 'Call', { id: action.forward.id ?? '' });
          } else if (action.effect) {
            ctx.effect(SERVICE_TWO, 'Call', { id: action.effect.id ?? '' }, action.effect.synchronous ?? false);
          } else if (action.fail) {
            ctx.fail(action.fail.message ?? '');
          }
        }
        return forwarding ? undefined : { message: value };
      },
    },
  });
}

/** `ValueEntityTwo`: `Call` answers an empty `Response`. */
export function valueEntityTwo(): ValueEntity<Persisted> {
  return new ValueEntity<Persisted>({
    ...common,
    serviceName: SERVICE_TWO,
    persistenceId: 'value-entity-tck-model-two',
    commandHandlers: { Call: () => ({}) },
  });
}

/** `ValueEntityConfigured`: passivation timeout 100 ms; `Call` answers an empty `Response`. */
export function valueEntityConfigured(): ValueEntity<Persisted> {
  return new ValueEntity<Persisted>({
    ...common,
    serviceName: `${PACKAGE}.ValueEntityConfigured`,
    persistenceId: 'value-entity-configured',
    passivationTimeoutMs: 100,
    commandHandlers: { Call: () => ({}) },
  });
}
