/**
 * Feeds the autoscaler's metrics recorder from the proxy's hot path: every call through the
 * dispatcher is a request, and, as the proxy cannot see inside the user function, also a
 * user-function call for as long as it is in flight (store writes included). Streams count
 * from their start to their end. Counters only: no allocation beyond the wrapping itself.
 */
import type { MetricsRecorder } from '../autoscale/index.js';
import type { Call, Dispatcher, Response } from './dispatch.js';

export function measuredDispatcher(inner: Dispatcher, recorder: MetricsRecorder): Dispatcher {
  return {
    unary(method, payload, metadata, cancel) {
      const startedAt = recorder.requestStarted();
      recorder.userFunctionStarted();
      const done = () => {
        recorder.userFunctionEnded();
        recorder.requestEnded(startedAt);
      };
      const result = inner.unary(method, payload, metadata, cancel);
      result.then(done, done);
      return result;
    },
    async *stream(call: Call): AsyncIterable<Response> {
      const startedAt = recorder.requestStarted();
      recorder.userFunctionStarted();
      try {
        yield* inner.stream(call);
      } finally {
        recorder.userFunctionEnded();
        recorder.requestEnded(startedAt);
      }
    },
  };
}
