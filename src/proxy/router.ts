/**
 * The router (after the reference proxy's `UserFunctionRouter`): what happens to a user
 * function's reply before the client sees it. Its side effects run first, in order: a
 * synchronous one is awaited (its reply discarded, its error the caller's error), an
 * asynchronous one is started and left to finish (an error is logged). Then a `forward` is
 * routed to its target, any method of any service of the user function, and the target's
 * reply, routed in turn, becomes the answer (chains of forwards up to `maxDepth`).
 *
 * A side effect or forward to a service or command the user function does not serve is a
 * protocol violation: it is reported to the user function with a trace of how it was reached
 * ("forwarded from", "side-effect of") and fails the call. The router knows nothing of entity
 * types: `invoke` carries a command to its target.
 */
import { describeError, silentLogger } from '../core/index.js';
import type { Logger } from '../core/index.js';
import type { Any, Metadata, MetadataEntry } from '../protocol/index.js';
import { CallError, Status } from './dispatch.js';
import type { UserFunctionReply } from './entities/messages.js';
import type { MethodModel, ProxyModel } from './model.js';

/** Why a command was routed. */
export type RouteReason = 'initial' | 'forwarded' | 'side-effect';

/** One step of a route, the latest first in a trace. */
export interface Hop {
  readonly reason: RouteReason;
  readonly service: string;
  readonly command: string;
}

export interface RouterOptions {
  readonly model: ProxyModel;
  /** Sends one command to its target and resolves with the unrouted reply (rejects with a CallError). */
  readonly invoke: (method: MethodModel, payload: Any, metadata: readonly MetadataEntry[]) => Promise<UserFunctionReply>;
  /** `EntityDiscovery.reportError`; must not throw. */
  readonly reportError: (message: string) => void;
  readonly logger?: Logger;
  /** Longest chain of forwards and side effects (default 32). */
  readonly maxDepth?: number;
}

const EMPTY_ANY: Any = { type_url: '', value: new Uint8Array(0) };
const entriesOf = (m: Metadata | null | undefined): MetadataEntry[] => m?.entries ?? [];
const traceWords: Record<RouteReason, string> = { initial: '', forwarded: 'forwarded from', 'side-effect': 'side-effect of' };

/** The text reported for a routing error: the error, then each hop that led there. */
export function describeRoute(error: string, reason: RouteReason, trace: readonly Hop[]): string {
  let text = error;
  let why = reason;
  for (const hop of trace) {
    if (why !== 'initial') text += `\n  ${traceWords[why]} ${hop.service}.${hop.command}`;
    why = hop.reason;
  }
  return text;
}

export class Router {
  private readonly log: Logger;
  private readonly maxDepth: number;

  constructor(private readonly o: RouterOptions) {
    this.log = o.logger ?? silentLogger;
    this.maxDepth = o.maxDepth ?? 32;
  }

  /**
   * Runs `reply`'s side effects, then follows its forward. Resolves with the reply for the
   * client (a `reply`, a `failure` or no action); rejects with a CallError when a synchronous
   * side effect or the forward fails.
   */
  async complete(reply: UserFunctionReply, trace: readonly Hop[]): Promise<UserFunctionReply> {
    for (const effect of reply.side_effects ?? []) {
      const run = this.route('side-effect', trace, effect.service_name ?? '', effect.command_name ?? '', effect.payload ?? EMPTY_ANY, entriesOf(effect.metadata));
      if (effect.synchronous) await run;
      else run.catch((err: unknown) => this.log.warn({ service: effect.service_name, command: effect.command_name, err: describeError(err) }, 'asynchronous side effect failed'));
    }
    const forward = reply.client_action?.forward;
    if (!forward) return reply;
    return this.route('forwarded', trace, forward.service_name ?? '', forward.command_name ?? '', forward.payload ?? EMPTY_ANY, entriesOf(forward.metadata));
  }

  /** Sends a command to `service.command` and routes its reply. */
  async route(reason: RouteReason, trace: readonly Hop[], service: string, command: string, payload: Any, metadata: readonly MetadataEntry[]): Promise<UserFunctionReply> {
    const target = this.o.model.services.get(service);
    const method = target?.methods.get(command);
    if (!target) throw this.fail(reason, trace, `Service [${service}] unknown`);
    if (!method) throw this.fail(reason, trace, `Service [${service}] does not have a command named: [${command}]`);
    if (trace.length >= this.maxDepth) throw this.fail(reason, trace, `Route to ${service}.${command} is more than ${this.maxDepth} forwards and side effects deep (a forwarding loop?)`);
    if (reason !== 'initial' && (method.clientStreaming || method.serverStreaming)) {
      throw this.fail(reason, trace, `${service}.${command} is a streamed method: forwards and side effects can only target unary methods`);
    }
    const reply = await this.o.invoke(method, payload, metadata);
    return this.complete(reply, [{ reason, service, command }, ...trace]);
  }

  private fail(reason: RouteReason, trace: readonly Hop[], error: string): CallError {
    const message = describeRoute(error, reason, trace);
    this.log.error(message);
    this.o.reportError(message);
    return new CallError(Status.UNKNOWN, error);
  }
}
