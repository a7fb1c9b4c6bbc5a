// TCK proxy tests, event-sourced entities, against the TCK model implemented with this package's
// user-function library, which drops a failed command's events without asking for a restart
// (the suite: test/tck/support/event-sourced-proxy-suite.ts; the restart path is covered by
// event-sourced-proxy-restart.test.ts).
import t from 'tap';
import { startModelUserFunction } from './model/server.js';
import { eventSourcedProxySuite } from './support/event-sourced-proxy-suite.js';
import { startTck } from './support/harness.js';

const tck = await startTck({ startUserFunction: startModelUserFunction });
t.teardown(() => tck.stop());
t.afterEach(() => tck.interceptor.verifyNoMoreInteractions());
eventSourcedProxySuite(t, tck, { restartsAfterEmitThenFail: false });
