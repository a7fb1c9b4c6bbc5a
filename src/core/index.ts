/** The foundation every layer builds on: time, randomness, errors and logging. */
export { systemClock, systemScheduler } from './clock.js';
export type { Clock, Scheduler, Cancellable } from './clock.js';
export { ManualScheduler } from './manual-scheduler.js';
export { SeededRandom } from './random.js';
export type { Random } from './random.js';
export { CloudstateError, hasCode, describeError, toError } from './errors.js';
export { createLogger, silentLogger } from './logger.js';
export { whenDrained } from './streams.js';
export type { Logger, LoggerOptions } from './logger.js';
