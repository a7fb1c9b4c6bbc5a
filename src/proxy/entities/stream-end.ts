/**
 * What the command at hand gets when its entity's `handle` stream ends before the user function
 * answered it: the one decision of ./stream-entity.ts (and of CRDT entities, ../crdt/entity.ts,
 * whose crash answers `Entity terminating`) about a stream's end, kept apart so it reads (and
 * is tested) as a table.
 *
 * The reference proxy's entity actors answer the outstanding command with `Unexpected entity
 * termination` when the user function's stream closes or fails under it (the function crashed
 * mid-command, or ended the stream) and stop; the next command starts the entity again, with a
 * new stream and recovery. One case stays apart here: a user function that cannot be reached
 * at all (not started, gone, its port refused) fails the call UNAVAILABLE, so clients see an
 * outage as an outage and may try again. Which of the two an UNAVAILABLE end is depends on
 * whether the stream is known to have reached a live user function: it has once the user
 * function answered on it, or when the channel reports the connection lost after the user
 * function had accepted it (`UserFunctionCallError.connectionLost`).
 */
import { describeError } from '../../core/index.js';
import { UserFunctionErrorCode } from '../user-function.js';
import type { UserFunctionCallError } from '../user-function.js';

/** The command fails UNAVAILABLE with the channel's error, or the entity crashes (`Unexpected <kind> termination`). */
export type StreamEndOutcome = { readonly unavailable: UserFunctionCallError } | { readonly termination: string };

/**
 * The outcome for the command at hand when its stream ended with `error` (none: the user
 * function ended it with OK), the user function having `answered` on that stream before or not.
 * `termination` is the detail logged with the crash.
 */
export function streamEndOutcome(error: UserFunctionCallError | undefined, answered: boolean): StreamEndOutcome {
  if (!error) return { termination: 'the user function closed the stream' };
  if (error.code === UserFunctionErrorCode.Unavailable && !answered && !error.connectionLost) return { unavailable: error };
  return { termination: describeError(error) };
}
