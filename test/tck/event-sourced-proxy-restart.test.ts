// TCK proxy tests, event-sourced entities, against the model written at the protocol level with
// no support library and a protoc-made descriptor set (test/tck/model/restarting-event-sourced.ts,
// as another language's user function would be): the same suite as event-sourced-proxy.test.ts.
// On a command that fails after emitting events it asks for a restart, as the Java support does
// (and as this package's library now does too): the proxy must close the entity's stream, open
// a new one, and re-init it with the replay of the persisted events.
import t from 'tap';
import { startRestartingEventSourcedUserFunction } from './model/restarting-event-sourced.js';
import { eventSourcedProxySuite } from './support/event-sourced-proxy-suite.js';
import { startTck } from './support/harness.js';

const tck = await startTck({ startUserFunction: startRestartingEventSourcedUserFunction });
t.teardown(() => tck.stop());
t.afterEach(() => tck.interceptor.verifyNoMoreInteractions());
eventSourcedProxySuite(t, tck);
