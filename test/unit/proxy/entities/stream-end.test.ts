import t from 'tap';
import { Status } from '../../../../src/proxy/dispatch.js';
import { streamEndOutcome } from '../../../../src/proxy/entities/stream-end.js';
import { UserFunctionCallError } from '../../../../src/proxy/user-function.js';

const unavailable = new UserFunctionCallError(Status.UNAVAILABLE, 'event-sourced entity stream: UNAVAILABLE: cannot connect');
const lost = new UserFunctionCallError(Status.UNAVAILABLE, 'event-sourced entity stream: UNAVAILABLE: connection lost', { connectionLost: true });
const cancelled = new UserFunctionCallError(Status.CANCELLED, 'event-sourced entity stream: CANCELLED: stream cancelled by the server');
const internal = new UserFunctionCallError(Status.INTERNAL, 'event-sourced entity stream: INTERNAL: boom');

t.test('a stream that ends under a command: an outage while unproven is UNAVAILABLE, everything else crashes the entity (termination)', async (t) => {
  const cases: [string, UserFunctionCallError | undefined, boolean, 'unavailable' | 'termination'][] = [
    ['unreachable on a fresh stream: the user function is down', unavailable, false, 'unavailable'],
    ['unavailable after the user function answered on the stream: it crashed mid-command', unavailable, true, 'termination'],
    ['the connection lost on a fresh stream: the user function crashed with its first command', lost, false, 'termination'],
    ['the user function ended the stream (OK)', undefined, false, 'termination'],
    ['the user function ended the stream (OK) after answering', undefined, true, 'termination'],
    ['the user function cancelled the stream', cancelled, false, 'termination'],
    ['the user function failed the stream', internal, true, 'termination'],
  ];
  for (const [what, error, answered, expected] of cases) {
    const outcome = streamEndOutcome(error, answered);
    t.equal('unavailable' in outcome ? 'unavailable' : 'termination', expected, what);
    if ('unavailable' in outcome) t.equal(outcome.unavailable, error, `${what}: the channel's error, as it is`);
  }
});
