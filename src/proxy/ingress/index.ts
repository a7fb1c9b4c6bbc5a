/**
 * The proxy's ingress: one TCP port for everything a client of the user function's services
 * speaks — gRPC (HTTP/2, cleartext), gRPC-Web and HTTP/JSON (HTTP/1.1 or HTTP/2), gRPC server
 * reflection, and the `/ready`, `/alive` and `/metrics` endpoints.
 *
 * A `net.Server` looks at the first bytes of each connection: the HTTP/2 connection preface
 * (`PRI * HTTP/2.0…`) hands the socket to an `http2` server, anything else to an `http` one
 * (the bytes read are put back with `unshift`; node's HTTP/2 session takes buffered bytes from
 * the socket itself, so that socket is not resumed here). Route order, as the reference
 * proxy's: gRPC and gRPC-Web, CORS preflight, probes and metrics, HTTP/JSON, Knative probe, 404.
 *
 * Closing stops accepting, ends the calls that answer with a stream at once (./draining.ts)
 * and gives the others the grace period to finish.
 *
 * Owns transport and routing only: what a call does is the `Dispatcher`'s business.
 */
import net from 'node:net';
import http from 'node:http';
import http2 from 'node:http2';
import { Registry } from 'prom-client';
import type { Logger } from '../../core/index.js';
import type { Dispatcher } from '../dispatch.js';
import type { ProxyModel } from '../model.js';
import { http1Exchange, http2Exchange, type HttpExchange } from './exchange.js';
import { serveGrpc, type GrpcContext } from './grpc-server.js';
import { corsHeaders, isGrpcWeb, serveGrpcWeb } from './grpc-web.js';
import { serveHttpApi, type HttpApiContext } from './http-api.js';
import { StreamDrain } from './draining.js';
import { serveEndpoint, shadowedByEndpoints, type Endpoints } from './endpoints.js';
import { compileHttpRules, type HttpRoutes } from './http-rules.js';
import { IngressMetrics } from './metrics.js';
import { reflectionServices } from './reflection.js';

export { compileHttpRules, HttpConfigError } from './http-rules.js';
export { startEndpointListener, type EndpointListener, type EndpointPath } from './endpoints.js';
export { SHUTTING_DOWN } from './draining.js';
export type { HttpBinding, HttpRoutes } from './http-rules.js';
export { parsePathTemplate, PathTemplateError } from './path-template.js';
export { REFLECTION_SERVICES } from './reflection.js';

export interface IngressOptions {
  host: string;
  /** 0 picks a free port (see `Ingress.port`). */
  port: number;
  model: ProxyModel;
  dispatcher: Dispatcher;
  /** Whether the proxy is ready to serve (`/ready` answers 200, else 503). */
  ready: () => boolean;
  /** Where the ingress registers its metrics and what `/metrics` serves; a private registry if absent. */
  metrics?: Registry;
  logger: Logger;
  /** Largest request message (gRPC) or body (HTTP) accepted, in bytes. Default 12 MiB (the reference's max-inbound-message-size). */
  maxMessageBytes?: number;
  /**
   * How long `close` lets calls in flight that answer once (unary, client streaming) finish
   * before it cuts connections, ms. Default 1000. Calls answering with a stream do not get it.
   */
  closeGraceMs?: number;
}

export interface Ingress {
  /** The port bound (the one chosen when `port` was 0). */
  readonly port: number;
  /**
   * Stops accepting, ends the calls that answer with a stream (server streaming, bidi; over
   * gRPC, gRPC-Web or SSE) at once with UNAVAILABLE, lets the other calls in flight finish for
   * the grace period, then closes all connections.
   */
  close(): Promise<void>;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0');
const kSocket = Symbol('socket');
/** An HTTP/1.1 response that knows its connection (`res.socket` is gone once it is done). */
type TrackedResponse = http.ServerResponse & { [kSocket]?: net.Socket };
const SNIFF_TIMEOUT_MS = 30_000;

/** Whether the first bytes of a connection are (so far) the HTTP/2 preface; undefined when too few to tell. */
function isHttp2Preface(head: Buffer): boolean | undefined {
  const n = Math.min(head.length, PREFACE.length);
  if (head.subarray(0, n).equals(PREFACE.subarray(0, n))) return n === PREFACE.length ? true : undefined;
  return false;
}

/** Starts the ingress; rejects with `HttpConfigError` when an HTTP rule of the model cannot be served. */
export async function startIngress(options: IngressOptions): Promise<Ingress> {
  const { model, logger } = options;
  const log = logger.child({ component: 'ingress' });
  const routes: HttpRoutes = compileHttpRules(model);
  for (const line of shadowedByEndpoints(routes)) log.warn(line);
  const registry = options.metrics ?? new Registry();
  const metrics = new IngressMetrics(registry);
  const maxMessageBytes = options.maxMessageBytes ?? 12 * 1024 * 1024;
  const drain = new StreamDrain();
  const dispatcher = drain.dispatcher(options.dispatcher);
  const local = new Map([...reflectionServices(model)].map(([path, service]) => [path, { ...service, handler: drain.handler(service.handler) }]));
  const grpc: GrpcContext = { model, dispatcher, local, maxMessageBytes, metrics, logger: log };
  const httpApi: HttpApiContext = { dispatcher, maxBodyBytes: maxMessageBytes, metrics, logger: log };
  const endpoints: Endpoints = { ready: options.ready, registry };

  const serveHttp = (ex: HttpExchange): void => {
    const url = ex.url;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const contentType = ex.headers['content-type'];
    if (isGrpcWeb(contentType)) {
      void serveGrpcWeb(grpc, ex, path);
      return;
    }
    if (contentType?.startsWith('application/grpc')) {
      ex.respond(415, { 'content-type': 'text/plain; charset=utf-8' }, 'gRPC needs HTTP/2 (h2c with prior knowledge); use gRPC-Web over HTTP/1.1');
      return;
    }
    if (ex.method === 'OPTIONS') {
      const requested = ex.headers['access-control-request-headers'];
      ex.respond(204, {
        ...corsHeaders(ex.headers.origin),
        'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
        'access-control-allow-headers': requested ?? 'content-type, x-grpc-web, x-user-agent, grpc-timeout, authorization',
        'access-control-expose-headers': 'grpc-status, grpc-message',
        'access-control-max-age': '86400',
      });
      return;
    }
    if (serveEndpoint(endpoints, ex, path)) return;
    const matched = routes.match(ex.method, path);
    if (matched !== undefined) {
      void serveHttpApi(httpApi, ex, matched.binding, matched.values, new URLSearchParams(q < 0 ? '' : url.slice(q + 1)));
      return;
    }
    const probe = ex.headers['k-network-probe'];
    if (probe !== undefined) {
      if (probe === 'queue') ex.respond(200, { 'content-type': 'text/plain' }, 'queue');
      else ex.respond(400, { 'content-type': 'text/plain' }, `unexpected probe header value: ${String(probe)}`);
      return;
    }
    ex.respond(404, { 'content-type': 'text/plain; charset=utf-8', ...corsHeaders(ex.headers.origin) }, `Not found: ${ex.method} ${path}`);
  };

  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    const contentType = headers['content-type'];
    if (contentType !== undefined && contentType.startsWith('application/grpc') && !contentType.startsWith('application/grpc-web')) {
      serveGrpc(grpc, stream, headers);
    } else serveHttp(http2Exchange(stream, headers));
  });
  h2.on('sessionError', (error) => log.debug({ err: error }, 'HTTP/2 session error'));
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });

  // HTTP/1.1 connections, with how many of their requests are in progress, so that close can
  // drop the idle ones (node's closeIdleConnections tracks only a server that listens itself).
  const h1Connections = new Map<net.Socket, number>();
  let closingDown = false;
  // One listener function for every response (the per-request path stays allocation-light).
  function onHttp1ResponseClose(this: TrackedResponse): void {
    const socket = this[kSocket]!;
    const inProgress = h1Connections.get(socket);
    if (inProgress !== undefined) h1Connections.set(socket, inProgress - 1);
  }
  const h1 = http.createServer((req, res: TrackedResponse) => {
    const socket = req.socket;
    h1Connections.set(socket, (h1Connections.get(socket) ?? 0) + 1);
    res[kSocket] = socket;
    res.on('close', onHttp1ResponseClose);
    if (closingDown) res.setHeader('connection', 'close');
    serveHttp(http1Exchange(req, res));
  });
  const dropIdleHttp1 = () => {
    for (const [socket, inProgress] of h1Connections) if (inProgress === 0) socket.destroy();
  };
  h1.on('clientError', (error, socket) => {
    log.debug({ err: error }, 'HTTP/1.1 client error');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const sockets = new Set<net.Socket>();
  const onSniffError = (error: Error) => log.debug({ err: error }, 'connection error before the protocol was known');
  // noDelay: node's http server turns Nagle off on the sockets it accepts itself, but these are
  // accepted here and handed over; without it a response written in pieces (gRPC-Web or HTTP
  // streaming over HTTP/1.1) can wait ~40 ms for the peer's delayed ACK. (HTTP/2 sessions set
  // it themselves.)
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', onSniffError);
    // A connection that never says which protocol it speaks is not kept forever.
    const onSniffTimeout = () => socket.destroy();
    socket.setTimeout(SNIFF_TIMEOUT_MS, onSniffTimeout);
    let head: Buffer | undefined;
    const onData = (chunk: Buffer) => {
      head = head === undefined ? chunk : Buffer.concat([head, chunk]);
      const h2c = isHttp2Preface(head);
      if (h2c === undefined) return; // too few bytes to tell
      socket.off('data', onData);
      socket.off('error', onSniffError);
      socket.setTimeout(0);
      socket.off('timeout', onSniffTimeout);
      socket.pause();
      socket.unshift(head);
      if (h2c) h2.emit('connection', socket);
      else {
        h1Connections.set(socket, 0);
        socket.once('close', () => h1Connections.delete(socket));
        h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  });
  server.on('error', (error) => log.error({ err: error }, 'ingress server error'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  log.info({ host: options.host, port: address.port, services: [...model.services.keys()] }, 'ingress listening (gRPC, gRPC-Web, HTTP/JSON)');

  let closing: Promise<void> | undefined;
  return {
    port: address.port,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        closingDown = true;
        drain.drain();
        for (const session of sessions) session.close();
        dropIdleHttp1();
        const grace = options.closeGraceMs ?? 1000;
        const deadline = Date.now() + grace;
        while (sockets.size > 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          dropIdleHttp1();
        }
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}
