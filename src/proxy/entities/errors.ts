/**
 * How failures below the dispatcher become what the client sees (a `CallError`: gRPC status and
 * description), mapped once here. Errors cross nodes as sharding carries them (code and
 * message), so the mapping goes by code, never by class alone.
 */
import { CloudstateError, describeError } from '../../core/index.js';
import { CallError, Status } from '../dispatch.js';
import type { StatusCode } from '../dispatch.js';
import { UserFunctionCallError, UserFunctionErrorCode } from '../user-function.js';

const codeOf = (err: unknown): string | undefined => (err instanceof CloudstateError ? err.code : undefined);

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
    case 'ERR_SHARDING_ENTITY_START':
      return new CallError(Status.UNKNOWN, `Unexpected ${kind} failure`, { cause: err });
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
