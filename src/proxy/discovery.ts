/**
 * The discovery handshake (after the reference proxy's `EntityDiscoveryManager`): send
 * `ProxyInfo`, receive the user function's `EntitySpec`, check it (./validation.ts), build the
 * model (./descriptors.ts). While the user function cannot be reached (not started yet, busy
 * restarting) the call is retried with exponential backoff; a spec that breaks the rules is
 * reported back to the user function (`reportError`) and ends discovery with a
 * `DiscoveryError`: retrying cannot fix it, the developer must.
 */
import { describeError, silentLogger, systemScheduler } from '../core/index.js';
import type { Logger, Random, Scheduler } from '../core/index.js';
import { PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION } from '../protocol/index.js';
import type { EntitySpec } from '../protocol/index.js';
import { buildProxyModel, DiscoveryError } from './descriptors.js';
import type { ProxyModel } from './model.js';
import type { UserFunctionClient } from './user-function.js';
import { modelProblems, specProblems } from './validation.js';

export interface Backoff {
  /** First retry delay, ms (default 1,000). */
  readonly minMs: number;
  /** Longest retry delay, ms (default 10,000). */
  readonly maxMs: number;
  /** Each delay is stretched by a random factor in [1, 1 + randomFactor) (default 0.2). */
  readonly randomFactor: number;
}

export const defaultBackoff: Backoff = { minMs: 1_000, maxMs: 10_000, randomFactor: 0.2 };

/**
 * The delay before retry number `attempt` (0 = the first retry): `min(maxMs, minMs × 2^attempt)`
 * stretched by `1 + random × randomFactor`, as Akka's BackoffSupervisor computes it. `random` in [0, 1).
 */
export function backoffDelay(attempt: number, backoff: Backoff, random: number): number {
  const base = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.min(attempt, 30));
  return base * (1 + random * backoff.randomFactor);
}

export interface DiscoverOptions {
  readonly proxyName: string;
  readonly proxyVersion: string;
  /** `ProxyInfo.supported_entity_types`, and the types discovery accepts. */
  readonly supportedEntityTypes: readonly string[];
  /** Require protocol 0.2 exactly (default true). */
  readonly protocolCompatibilityCheck?: boolean;
  readonly backoff?: Backoff;
  /** For the backoff's random factor (default Math.random). */
  readonly random?: Pick<Random, 'next'>;
  readonly scheduler?: Scheduler;
  readonly logger?: Logger;
  /** Aborting stops the retries; `discover` then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Deadline of each discover call, ms (default 10,000). */
  readonly callDeadlineMs?: number;
  /** Further checks on the model (e.g. the ingress's HTTP rules); each returned string is a problem. */
  readonly checkModel?: (model: ProxyModel) => string[];
}

export interface Discovered {
  readonly spec: EntitySpec;
  readonly model: ProxyModel;
}

/**
 * Discovers the user function. Resolves once it answered with a spec the proxy can serve;
 * retries (with backoff, forever) while it cannot be reached; rejects with `DiscoveryError`
 * after reporting an invalid spec to it.
 */
export async function discover(client: UserFunctionClient, options: DiscoverOptions): Promise<Discovered> {
  const log = options.logger ?? silentLogger;
  const scheduler = options.scheduler ?? systemScheduler;
  const random = options.random ?? { next: Math.random };
  const backoff = options.backoff ?? defaultBackoff;
  const info = {
    protocol_major_version: PROTOCOL_MAJOR_VERSION,
    protocol_minor_version: PROTOCOL_MINOR_VERSION,
    proxy_name: options.proxyName,
    proxy_version: options.proxyVersion,
    supported_entity_types: [...options.supportedEntityTypes],
  };
  // The scheduler's timers do not keep the process alive; waiting for the user function is the
  // proxy's whole business until it answers, so discovery does.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    for (let attempt = 0; ; attempt++) {
      options.signal?.throwIfAborted();
      let spec: EntitySpec;
      try {
        spec = await client.discover(info, { deadlineMs: options.callDeadlineMs });
      } catch (err) {
        const delay = backoffDelay(attempt, backoff, random.next());
        log.warn({ userFunction: client.address, attempt: attempt + 1, retryInMs: Math.round(delay) }, `user function not reachable: ${describeError(err)}`);
        await sleep(scheduler, delay, options.signal);
        continue;
      }
      return await accept(client, spec, options, log);
    }
  } finally {
    clearInterval(keepAlive);
  }
}

async function accept(client: UserFunctionClient, spec: EntitySpec, options: DiscoverOptions, log: Logger): Promise<Discovered> {
  const rules = { supportedEntityTypes: options.supportedEntityTypes, protocolCompatibilityCheck: options.protocolCompatibilityCheck };
  let problems = specProblems(spec, rules);
  let model: ProxyModel | undefined;
  if (problems.length === 0) {
    try {
      model = buildProxyModel(spec);
      problems = [...modelProblems(model), ...(options.checkModel?.(model) ?? [])];
    } catch (err) {
      problems = [describeError(err)];
    }
  }
  if (problems.length === 0 && model) {
    const info = spec.service_info;
    log.info(
      { services: [...model.services.keys()], library: info?.support_library_name, libraryVersion: info?.support_library_version, runtime: info?.service_runtime },
      'user function discovered',
    );
    return { spec, model };
  }
  const message = problems.length === 1 ? problems[0]! : `The user function cannot be served:\n${problems.map((p) => `- ${p}`).join('\n')}`;
  log.error({ problems }, 'user function rejected at discovery');
  await client.reportError(message).catch((err: unknown) => log.warn(`could not report the discovery error to the user function: ${describeError(err)}`));
  throw new DiscoveryError(message);
}

function sleep(scheduler: Scheduler, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      timer.cancel();
      reject(signal!.reason as Error);
    };
    const timer = scheduler.schedule(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
