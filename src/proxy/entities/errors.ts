/**
 * How failures below the dispatcher become what the client sees (a `CallError`: gRPC status and
 * description), mapped once here. Errors cross nodes as sharding carries them (code and
 * message), so the mapping goes by code, never by class alone.
 */
import { CloudstateError, describeError } from '../../core/index.js';
import { CallError, Status } from '../dispatch.js';
import type { StatusCode } from '../dispatch.js';
import type { MethodModel } from '../model.js';
import { UserFunctionCallError, UserFunctionErrorCode } from '../user-function.js';

const codeOf = (err: unknown): string | undefined => (err instanceof CloudstateError ? err.code : undefined);

/** A request that is not an encoded input message of its method (`err`: why it did not decode): the client's mistake. */
export const invalidRequest = (method: MethodModel, err: unknown): CallError =>
  new CallError(Status.INVALID_ARGUMENT, `${method.path}: the request is not a valid ${method.inputType.fullName.replace(/^\./, '')}: ${describeError(err)}`);

/** Code of `EntityRecoveryError`. */
export const ENTITY_RECOVERY_FAILED = 'ERR_PROXY_ENTITY_RECOVERY';

/**
 * An entity could not recover (its journal or store could not be read): the commands waiting
 * for it fail, and the next command tries the recovery again. Its code reaches the node that
 * asked, which answers with `recoveryFailureDescription`.
 */
export class EntityRecoveryError extends CloudstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ENTITY_RECOVERY_FAILED, message, options);
  }
}

/**
 * What the client sees when an entity cannot recover, as the reference proxy words it: an
 * event-sourced entity (`kind` `entity`) says `Error recovering event log`; a value entity,
 * whose recovery is one read of its state, crashes as on any store failure (`Unexpected Value
 * entity failure`).
 */
export function recoveryFailureDescription(kind: string): string {
  return kind === 'entity' ? 'Error recovering event log' : `Unexpected ${kind} failure`;
}

/**
 * The client's view of an error from the user function or an entity. `kind` is the word of
 * the entity's crash descriptions (`entity`, `Value entity`).
 */
export function toCallError(err: unknown, kind = 'entity'): CallError {
  if (err instanceof CallError) return err;
  const message = describeError(err);
  switch (codeOf(err)) {
    case UserFunctionErrorCode.Unavailable:
      return new CallError(Status.UNAVAILABLE, `the user function is unavailable (${message})`, { cause: err });
    case UserFunctionErrorCode.CallFailed: {
      // An action's own gRPC error: its status and description pass through.
      const grpcCode = err instanceof UserFunctionCallError ? err.grpcCode : Status.UNKNOWN;
      const description = err instanceof UserFunctionCallError && err.cause && typeof (err.cause as { details?: unknown }).details === 'string' ? (err.cause as { details: string }).details : message;
      return new CallError(grpcCode as StatusCode, description, { cause: err });
    }
    case 'ERR_SHARDING_ENTITY_STOPPED':
      return new CallError(Status.UNKNOWN, `Unexpected ${kind} failure`, { cause: err });
    // An entity of the proxy's starts by recovering: a start that failed is a failed recovery.
    case 'ERR_SHARDING_ENTITY_START':
    case ENTITY_RECOVERY_FAILED:
      return new CallError(Status.UNKNOWN, recoveryFailureDescription(kind), { cause: err });
    case 'ERR_SHARDING_TIMEOUT':
      return new CallError(Status.DEADLINE_EXCEEDED, message, { cause: err });
    case 'ERR_SHARDING_STOPPED':
    case 'ERR_SHARDING_BUFFER_FULL':
    case 'ERR_SHARDING_HOST_LOST':
    case 'ERR_SHARDING_HANDING_OFF':
      return new CallError(Status.UNAVAILABLE, message, { cause: err });
    default:
      return new CallError(Status.UNKNOWN, message, { cause: err });
  }
}
