import t from 'tap';
import { invalidWriteReason } from '../../../src/persistence/validate.js';
import { event, write } from '../../../src/persistence/testkit/index.js';
import type { AtomicWrite } from '../../../src/persistence/spi/index.js';

const ok = write('id', 1, 3);
const cases: [string, AtomicWrite, RegExp | undefined][] = [
  ['a well-formed write', ok, undefined],
  ['no events', { persistenceId: 'id', events: [] }, /at least one event/],
  ['empty persistence id', { persistenceId: '', events: [event('', 1)] }, /non-empty/],
  ['seqNr 0', { persistenceId: 'id', events: [event('id', 0)] }, /positive integer/],
  ['fractional seqNr', { persistenceId: 'id', events: [event('id', 1.5)] }, /positive integer/],
  ['a gap inside the write', { persistenceId: 'id', events: [event('id', 1), event('id', 3)] }, /consecutive/],
  ['an event of another id', { persistenceId: 'id', events: [event('id', 1), event('other', 2)] }, /inside a write for/],
  ['payload too large', { persistenceId: 'id', events: [event('id', 1, { payload: new Uint8Array(101) })] }, /more than 100/],
  ['an empty tag', { persistenceId: 'id', events: [event('id', 1, { tags: [''] })] }, /tags/],
  ['too many events', write('id', 1, 11), /more than 10/],
  ['a timestamp that is not a number', { persistenceId: 'id', events: [event('id', 1, { timestamp: Number.NaN })] }, /timestamp/],
];
for (const [name, w, expected] of cases) {
  const reason = invalidWriteReason(w, 100, 10);
  if (expected) t.match(reason, expected, name);
  else t.equal(reason, undefined, name);
}
