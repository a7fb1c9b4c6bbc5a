/**
 * The TCK action model implemented with this package's user-function library:
 * `ActionTckModel` (the four call shapes) and `ActionTwo` (the target of forwards and side
 * effects). Each group of steps makes one response: steps run in order, side effects
 * accumulate, and the last reply, forward or failure is the response. Unary and streamed-in
 * calls combine all their groups into one response (reference: the Java TCK's
 * ActionTckModelBehavior).
 */
import { Action, type ActionContext, type StreamedActionContext } from '../../../src/function/index.js';
import { tckProtoDir } from '../support/codec.js';

const SERVICE = 'cloudstate.tck.model.action.ActionTckModel';
const SERVICE_TWO = 'cloudstate.tck.model.action.ActionTwo';
const PROTO = 'cloudstate/tck/model/action.proto';

interface Step {
  reply?: { message?: string } | null;
  forward?: { id?: string } | null;
  fail?: { message?: string } | null;
  effect?: { id?: string; synchronous?: boolean } | null;
}
interface Request {
  groups?: Array<{ steps?: Step[] }>;
}

/** What a group (or several, combined) of steps comes to. */
type Outcome = { kind: 'none' } | { kind: 'reply'; message: string } | { kind: 'forward'; id: string } | { kind: 'fail'; message: string };

/** Runs `steps` in order: side effects go to `effect` as they come; the last response-making step wins. */
function fold(steps: readonly Step[], start: Outcome, effect: (id: string, synchronous: boolean) => void): Outcome {
  let outcome = start;
  for (const step of steps) {
    if (step.reply) outcome = { kind: 'reply', message: step.reply.message ?? '' };
    else if (step.forward) outcome = { kind: 'forward', id: step.forward.id ?? '' };
    else if (step.fail) outcome = { kind: 'fail', message: step.fail.message ?? '' };
    else if (step.effect) effect(step.effect.id ?? '', step.effect.synchronous ?? false);
  }
  return outcome;
}

/** Unary and streamed-in: one answer for all the groups of all the requests. */
function answerOnce(requests: readonly Request[], ctx: ActionContext): unknown {
  let outcome: Outcome = { kind: 'none' };
  for (const request of requests) {
    for (const group of request.groups ?? []) {
      outcome = fold(group.steps ?? [], outcome, (id, synchronous) => ctx.effect(SERVICE_TWO, 'Call', { id }, synchronous));
    }
  }
  switch (outcome.kind) {
    case 'reply':
      return { message: outcome.message };
    case 'forward':
      ctx.forward(SERVICE_TWO, 'Call', { id: outcome.id });
      return undefined;
    case 'fail':
      return ctx.fail(outcome.message);
    default:
      return undefined;
  }
}

/** Streamed-out and streamed: one response per group. */
function respondPerGroup(request: Request, ctx: StreamedActionContext): void {
  for (const group of request.groups ?? []) {
    const outcome = fold(group.steps ?? [], { kind: 'none' }, (id, synchronous) => ctx.effect(SERVICE_TWO, 'Call', { id }, synchronous));
    if (outcome.kind === 'reply') ctx.reply({ message: outcome.message });
    else if (outcome.kind === 'forward') ctx.forward(SERVICE_TWO, 'Call', { id: outcome.id });
    else if (outcome.kind === 'fail') ctx.fail(outcome.message);
    else ctx.noReply();
  }
}

/** `ActionTckModel`. */
export function actionTckModel(): Action {
  return new Action({
    serviceName: SERVICE,
    protoFiles: [PROTO],
    includeDirs: [tckProtoDir],
    commandHandlers: {
      ProcessUnary: (request: Request, ctx: ActionContext) => answerOnce([request], ctx),
      ProcessStreamedIn: async (requests: AsyncIterable<Request>, ctx: ActionContext) => {
        const all: Request[] = [];
        for await (const request of requests) all.push(request);
        return answerOnce(all, ctx);
      },
      ProcessStreamedOut: (request: Request, ctx: StreamedActionContext) => respondPerGroup(request, ctx),
      ProcessStreamed: async (requests: AsyncIterable<Request>, ctx: StreamedActionContext) => {
        for await (const request of requests) respondPerGroup(request, ctx);
      },
    },
  });
}

/** `ActionTwo`: `Call` answers an empty `Response`. */
export function actionTwo(): Action {
  return new Action({
    serviceName: SERVICE_TWO,
    protoFiles: [PROTO],
    includeDirs: [tckProtoDir],
    commandHandlers: { Call: () => ({}) },
  });
}
