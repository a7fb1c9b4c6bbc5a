/**
 * The chat presence gateway: a small node:http server that serves the page (`public/`, no build
 * step) and stands between the browser and the proxies, as the gateway of the Cloudstate chat
 * sample does. A browser keeps one event stream open (`GET /api/events`, Server-Sent Events):
 * that is its session, and every presence stream the page asks for lives in it (./session.ts).
 * One event stream per page, not one HTTP request per presence stream, because a browser opens
 * at most six HTTP/1.1 connections to one origin and a page with three users needs twelve
 * streams.
 *
 * Routes:
 *   GET  /, /app.js                   the page (and an empty /favicon.ico)
 *   GET  /api/events                  the session's event stream; first event `hello` {session, nodes}
 *   POST /api/connect     {session, user, node}          204
 *   POST /api/disconnect  {session, user}                204
 *   POST /api/monitor     {session, viewer, user, node}  204
 * A bad request answers 400 with the reason, an unknown session 404.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Session } from './session.js';

/** The page's files, by URL path. */
const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
};

/** User names the page may use: they appear in URLs, attributes and logs. */
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const MAX_BODY = 4096;
/** An event-stream comment this often keeps idle connections open through proxies and browsers. */
const HEARTBEAT_MS = 15_000;

export interface GatewayOptions {
  /** The proxies' HTTP base URLs (`http://127.0.0.1:9001`); the page numbers them from 1. */
  readonly nodes: readonly string[];
  readonly host?: string;
  /** 0 (default): any free port. */
  readonly port?: number;
  /** Delay before a failed presence stream is opened again, in ms (default 1000). */
  readonly retryMs?: number;
}

export interface Gateway {
  readonly server: Server;
  /** `http://host:port/`, where the page is. */
  readonly url: string;
  /** The open sessions (one per page showing). */
  readonly sessions: ReadonlyMap<string, Session>;
  /** Closes every session and the server. */
  close(): Promise<void>;
}

class BadRequest extends Error {}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new BadRequest(`the body is over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new BadRequest(`the body must be a JSON object: ${(error as Error).message}`);
  }
}

function userField(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || !USER_NAME.test(value)) throw new BadRequest(`${field} must be a user name (letters, digits, _ . -; at most 32), got ${JSON.stringify(value)}`);
  return value;
}

function nodeField(body: Record<string, unknown>, nodes: number): number {
  const value = body.node;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > nodes) throw new BadRequest(`node must be 1 to ${nodes}, got ${JSON.stringify(value)}`);
  return value;
}

function reply(res: ServerResponse, status: number, text?: string): void {
  if (text === undefined) res.writeHead(status).end();
  else res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
}

/** Starts the gateway; resolves once it listens. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  if (options.nodes.length === 0) throw new Error('the gateway needs at least one proxy node');
  const nodes = options.nodes.map((url) => (url.endsWith('/') ? url : `${url}/`));
  const sessions = new Map<string, Session>();
  const eventStreams = new Set<ServerResponse>();

  const openEvents = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const session = new Session(randomUUID(), nodes, send, options.retryMs);
    sessions.set(session.id, session);
    eventStreams.add(res);
    // The browser reconnects on its own after a lost stream, as a new session (the page re-asks).
    res.write('retry: 1000\n\n');
    send('hello', { session: session.id, nodes: nodes.length });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    req.socket.setTimeout(0);
    res.on('close', () => {
      clearInterval(heartbeat);
      session.close();
      sessions.delete(session.id);
      eventStreams.delete(res);
    });
  };

  const command = async (path: string, req: IncomingMessage, res: ServerResponse) => {
    const body = await readJson(req);
    const session = sessions.get(String(body.session));
    if (session === undefined) return reply(res, 404, `no session ${JSON.stringify(body.session)} (open /api/events first)`);
    if (path === '/api/connect') session.connect(userField(body, 'user'), nodeField(body, nodes.length));
    else if (path === '/api/disconnect') session.disconnect(userField(body, 'user'));
    else session.monitor(userField(body, 'viewer'), userField(body, 'user'), nodeField(body, nodes.length));
    reply(res, 204);
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://gateway').pathname;
    const handle = async () => {
      const page = STATIC[path];
      if (req.method === 'GET' && page !== undefined) {
        const content = await readFile(PUBLIC_DIR + page.file);
        res.writeHead(200, { 'content-type': page.type, 'cache-control': 'no-cache' }).end(content);
      } else if (req.method === 'GET' && path === '/favicon.ico') {
        reply(res, 204);
      } else if (req.method === 'GET' && path === '/api/events') {
        openEvents(req, res);
      } else if (req.method === 'POST' && (path === '/api/connect' || path === '/api/disconnect' || path === '/api/monitor')) {
        await command(path, req, res);
      } else {
        reply(res, 404, `no ${req.method} ${path} here`);
      }
    };
    handle().catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (error instanceof BadRequest || error instanceof RangeError) reply(res, 400, error.message);
      else reply(res, 500, (error as Error).message);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}/`,
    sessions,
    async close() {
      for (const res of eventStreams) res.destroy();
      for (const session of sessions.values()) session.close();
      sessions.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
