// TCK proxy tests, event-sourced entities, against the TCK model implemented with this package's
// user-function library, which asks for a restart when a command fails after emitting events
// (the suite: test/tck/support/event-sourced-proxy-suite.ts; event-sourced-proxy-restart.test.ts
// runs the same suite against the model written at the protocol level).
import t from 'tap';
import { startModelUserFunction } from './model/server.js';
import { eventSourcedProxySuite } from './support/event-sourced-proxy-suite.js';
import { startTck } from './support/harness.js';

const tck = await startTck({ startUserFunction: startModelUserFunction });
t.teardown(() => tck.stop());
t.afterEach(() => tck.interceptor.verifyNoMoreInteractions());
eventSourcedProxySuite(t, tck);
