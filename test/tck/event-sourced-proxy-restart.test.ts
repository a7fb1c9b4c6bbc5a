// TCK proxy tests, event-sourced entities, against a user function that asks for a restart
// when a command fails after emitting events (test/tck/model/restarting-event-sourced.ts,
// written at the protocol level, as the Java support behaves): the same suite as
// event-sourced-proxy.test.ts, taking the restart path — the proxy must close the entity's
// stream, open a new one, and re-init it with the replay of the persisted events.
import t from 'tap';
import { startRestartingEventSourcedUserFunction } from './model/restarting-event-sourced.js';
import { eventSourcedProxySuite } from './support/event-sourced-proxy-suite.js';
import { startTck } from './support/harness.js';

const tck = await startTck({ startUserFunction: startRestartingEventSourcedUserFunction });
t.teardown(() => tck.stop());
t.afterEach(() => tck.interceptor.verifyNoMoreInteractions());
eventSourcedProxySuite(t, tck, { restartsAfterEmitThenFail: true });
