/**
 * The proxy's operational endpoints: `GET /ready` (200 "ready" or 503 "not ready"), `GET /alive`
 * (200 "alive") and `GET /metrics` (the registry in Prometheus text). The ingress answers all
 * three on its own port; `startEndpointListener` answers some of them on a port of their own,
 * as the reference proxy does (metrics on METRICS_PORT, the probes on the Akka management
 * port), with the same handler, so both ports always give the same answers.
 *
 * Owns these answers only: what "ready" means is the caller's `ready`.
 */
import http from 'node:http';
import type net from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../../core/index.js';
import { http1Exchange, type HttpExchange } from './exchange.js';
import type { HttpRoutes } from './http-rules.js';

export type EndpointPath = '/ready' | '/alive' | '/metrics';

export const ALL_ENDPOINTS: readonly EndpointPath[] = ['/ready', '/alive', '/metrics'];

/**
 * What a `google.api.http` rule of the user's would serve on a GET of an endpoint path, which
 * the ingress answers itself (the endpoints come first): one line per shadowed rule, for a
 * warning at start-up. Empty when no rule matches these paths.
 */
export function shadowedByEndpoints(routes: Pick<HttpRoutes, 'match'>): string[] {
  const shadowed: string[] = [];
  for (const path of ALL_ENDPOINTS) {
    const hit = routes.match('GET', path);
    if (hit) shadowed.push(`GET ${path} is the proxy's own ${path === '/metrics' ? 'metrics' : 'health'} endpoint: the HTTP rule of ${hit.binding.method.serviceName}.${hit.binding.method.name} never gets it on this port`);
  }
  return shadowed;
}

export interface Endpoints {
  /** Whether the proxy is ready to serve (`/ready` answers 200, else 503). */
  readonly ready: () => boolean;
  /** What `/metrics` serves. */
  readonly registry: Registry;
}

/**
 * Answers `ex` if it is a GET of one of `paths`; returns whether it did (the caller routes the
 * request on otherwise).
 */
export function serveEndpoint(endpoints: Endpoints, ex: HttpExchange, path: string, paths: readonly EndpointPath[] = ALL_ENDPOINTS): boolean {
  if (ex.method !== 'GET' || !(paths as readonly string[]).includes(path)) return false;
  switch (path as EndpointPath) {
    case '/ready': {
      const ready = endpoints.ready();
      ex.respond(ready ? 200 : 503, { 'content-type': 'text/plain' }, ready ? 'ready' : 'not ready');
      break;
    }
    case '/alive':
      ex.respond(200, { 'content-type': 'text/plain' }, 'alive');
      break;
    case '/metrics': {
      const registry = endpoints.registry;
      registry.metrics().then(
        (text) => ex.respond(200, { 'content-type': registry.contentType }, text),
        (error: unknown) => ex.respond(500, { 'content-type': 'text/plain' }, `metrics failed: ${(error as Error).message}`),
      );
      break;
    }
  }
  return true;
}

export interface EndpointListenerOptions {
  host: string;
  /** 0 picks a free port (see `EndpointListener.port`). */
  port: number;
  /** The endpoints served there; anything else is 404. */
  paths: readonly EndpointPath[];
  endpoints: Endpoints;
  logger: Logger;
}

export interface EndpointListener {
  /** The port bound (the one chosen when `port` was 0). */
  readonly port: number;
  /** Stops listening and closes its connections at once (probes and scrapes are not worth waiting for). Idempotent. */
  close(): Promise<void>;
}

/** A plain HTTP/1.1 server answering `paths` only. Rejects if the port cannot be bound. */
export async function startEndpointListener(options: EndpointListenerOptions): Promise<EndpointListener> {
  const { endpoints, paths } = options;
  const server = http.createServer((req, res) => {
    const ex = http1Exchange(req, res);
    const url = ex.url;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (!serveEndpoint(endpoints, ex, path, paths)) ex.respond(404, { 'content-type': 'text/plain; charset=utf-8' }, `Not found: ${ex.method} ${path}`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => options.logger.error({ err: error }, 'endpoint listener error'));
  const port = (server.address() as net.AddressInfo).port;
  options.logger.info({ host: options.host, port, paths }, 'endpoints listening');
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
