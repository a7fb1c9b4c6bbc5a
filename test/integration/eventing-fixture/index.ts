/**
 * The user function of the proxy eventing integration test, written with the library
 * (ledger.proto says what each service does). Serves on `PORT` (default 8080) on 127.0.0.1:
 * `node --import tsx test/integration/eventing-fixture/index.ts`.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createLogger } from '../../../src/core/index.js';
import { Action, CloudstateServer, EventSourcedEntity, ValueEntity } from '../../../src/function/index.js';
import type { ActionContext, EventSourcedCommandContext, ValueEntityCommandContext } from '../../../src/function/index.js';

const PACKAGE = 'cloudstate.it.eventing';
const common = { protoFiles: ['ledger.proto'], includeDirs: [fileURLToPath(new URL('.', import.meta.url))] };

interface KeyedN {
  key?: string;
  n?: number;
}
interface TallyState {
  ns: number[];
}

/**
 * `Ledger`: an `Append` emits one `Appended` with the same key and n, unless that n was appended
 * before (a client's retry of an append that did commit emits nothing), so every `Appended` in
 * the journal is a distinct n of its key and a duplicate in a tally comes from eventing alone.
 */
export function ledgerEntity(): EventSourcedEntity<TallyState> {
  const entity: EventSourcedEntity<TallyState> = new EventSourcedEntity<TallyState>({
    ...common,
    serviceName: `${PACKAGE}.Ledger`,
    persistenceId: 'ledger',
    snapshotEvery: 0,
    initialState: () => ({ ns: [] }),
    commandHandlers: {
      Append(append: KeyedN, state: TallyState, ctx: EventSourcedCommandContext<TallyState>) {
        const n = append.n ?? 0;
        if (!state.ns.includes(n)) ctx.emit(entity.message(`${PACKAGE}.Appended`, { key: append.key ?? '', n }));
        return {};
      },
    },
    eventHandlers: { Appended: (event: KeyedN, state: TallyState) => ({ ns: [...state.ns, event.n ?? 0] }) },
  });
  return entity;
}

/** `LedgerProjection`: forwards every event of the "ledger" log to the `Tally` of its key. */
export function ledgerProjection(): Action {
  return new Action({
    ...common,
    serviceName: `${PACKAGE}.LedgerProjection`,
    commandHandlers: {
      OnAppended(event: KeyedN, ctx: ActionContext) {
        ctx.forward(`${PACKAGE}.Tally`, 'Record', { key: event.key ?? '', n: event.n ?? 0 });
        return undefined;
      },
    },
  });
}

/** `Tally`: the `n`s recorded for its key, in arrival order. */
export function tallyEntity(): ValueEntity<TallyState> {
  return new ValueEntity<TallyState>({
    ...common,
    serviceName: `${PACKAGE}.Tally`,
    persistenceId: 'tally',
    stateType: `${PACKAGE}.TallyState`,
    initialState: () => ({ ns: [] }),
    commandHandlers: {
      Record(record: KeyedN, state: TallyState, ctx: ValueEntityCommandContext<TallyState>) {
        ctx.updateState({ ns: [...(state.ns ?? []), record.n ?? 0] });
        return {};
      },
      GetTally: (_get: { key?: string }, state: TallyState) => ({ ns: state.ns ?? [] }),
    },
  });
}

/** Serves the three on `port` (0: any free port); resolves the server and the bound port. */
export async function startEventingFixture(port = 8080, host = '127.0.0.1'): Promise<{ server: CloudstateServer; port: number }> {
  const server = new CloudstateServer({
    entities: [ledgerEntity(), ledgerProjection(), tallyEntity()],
    serviceName: 'eventing-fixture',
    logger: createLogger({ name: 'eventing-fixture', level: process.env.LOG_LEVEL ?? 'warn' }),
  });
  return { server, port: await server.start({ host, port }) };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { server } = await startEventingFixture(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1');
  const stop = () => void server.shutdown().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
