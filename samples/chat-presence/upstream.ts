/**
 * One server-streamed call to a Cloudstate proxy over its HTTP/JSON ingress, kept open for as
 * long as its owner wants it: `POST /<package>.<Service>/<Method>` with the request as JSON, the
 * answers read as newline-delimited JSON. When the stream fails or ends (the proxy restarts, the
 * user function is down, the entity fails), the owner is told why and the call is made again
 * after `retryMs`, until `close()`. Closing destroys the HTTP request, which the proxy sees as a
 * cancelled call and passes on to the entity as a stream cancellation.
 *
 * node:http on purpose: fetch (undici) gives up on a response with no bytes for 300 s, and a
 * presence stream is quiet for as long as nobody's status changes.
 */
import { request, type ClientRequest } from 'node:http';

/** What the owner of a stream hears. */
export interface StreamHandlers {
  /** An answer of the call, as the proxy renders it in JSON. */
  onMessage(message: Record<string, unknown>): void;
  /**
   * `opening`: the request is being made; `open`: the proxy answered 200 (it does so with the
   * first answer); `retrying`: the call failed or ended (`detail` says why) and is made again
   * after the retry delay.
   */
  onState(state: 'opening' | 'open' | 'retrying', detail?: string): void;
}

/** A stream that can be closed (for good: no more retries, no more handler calls). */
export interface UpstreamStream {
  close(): void;
}

export interface StreamOptions {
  /** Delay before calling again after a failure, in ms (default 1000). */
  readonly retryMs?: number;
}

/** The most a failure message quotes of an error response body. */
const MAX_DETAIL = 300;

/**
 * Calls `method` (`/<package>.<Service>/<Method>`) on the proxy at `baseUrl` with `body`, and
 * keeps calling it until closed. The first attempt starts before this returns.
 */
export function openStream(baseUrl: string, method: string, body: unknown, handlers: StreamHandlers, options: StreamOptions = {}): UpstreamStream {
  const retryMs = options.retryMs ?? 1000;
  const url = new URL(method, baseUrl);
  let closed = false;
  let current: ClientRequest | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  const attempt = () => {
    retryTimer = undefined;
    if (closed) return;
    let done = false;
    /** Ends this attempt (once) and schedules the next. */
    const fail = (reason: string) => {
      if (done || closed) return;
      done = true;
      req.destroy();
      handlers.onState('retrying', reason);
      retryTimer = setTimeout(attempt, retryMs);
    };
    handlers.onState('opening');
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' } });
    current = req;
    req.on('error', (error) => fail(`${url.host}: ${error.message}`));
    req.on('response', (res) => {
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (chunk: string) => (text = (text + chunk).slice(0, MAX_DETAIL)));
        res.on('close', () => fail(`HTTP ${res.statusCode}: ${text.trim() || res.statusMessage}`));
        return;
      }
      handlers.onState('open');
      let buffered = '';
      res.on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          if (done || closed) return;
          if (line.trim() === '') continue;
          let message: Record<string, unknown>;
          try {
            message = JSON.parse(line) as Record<string, unknown>;
          } catch {
            return fail(`not JSON from the proxy: ${line.slice(0, MAX_DETAIL)}`);
          }
          const error = message.error as { code?: number; message?: string } | undefined;
          if (error !== undefined) return fail(`gRPC status ${error.code}: ${error.message}`);
          handlers.onMessage(message);
        }
      });
      res.on('close', () => fail('the proxy ended the stream'));
    });
    req.end(JSON.stringify(body));
  };

  attempt();
  return {
    close() {
      if (closed) return;
      closed = true;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      current?.destroy();
    },
  };
}
