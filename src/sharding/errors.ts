/**
 * The sharding layer's errors, each a `CloudstateError` with a stable code.
 */
import { CloudstateError } from '../core/index.js';

/**
 * The entity instance cannot go on (another writer got its sequence numbers, storage failed
 * mid-command): the command fails with this error, and the runtime restarts the entity by
 * recovery before its next command.
 */
export class EntityStoppedError extends CloudstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SHARDING_ENTITY_STOPPED', message, options);
  }
}

/** A command the entity's command handler rejected: nothing was persisted; the entity goes on. */
export class CommandFailedError extends CloudstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SHARDING_COMMAND_FAILED', message, options);
  }
}
