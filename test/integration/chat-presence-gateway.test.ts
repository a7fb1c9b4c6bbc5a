// The chat presence gateway on its own, against two small stand-ins for the proxies' HTTP/JSON
// ingress (newline-delimited JSON streams of Connect and Monitor, sharing one presence table):
// a page's session holds its streams, a disconnect or a closed page cancels them upstream, a
// failed stream is opened again, and bad requests get clear answers. The real proxies and the
// real browser are in chat-presence.test.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { startGateway } from '../../samples/chat-presence/gateway.js';
import { CONNECT, MONITOR } from '../../samples/chat-presence/session.js';

/** Two stand-in proxies over one presence table: name → open Connect streams. */
function presenceStandIn() {
  const connections = new Map<string, number>();
  const monitors = new Set<{ name: string; res: ServerResponse; online: boolean }>();
  const openConnects = new Set<IncomingMessage>();
  const online = (name: string) => (connections.get(name) ?? 0) > 0;
  const changed = () => {
    for (const m of monitors) {
      if (online(m.name) === m.online) continue;
      m.online = online(m.name);
      m.res.write(`${JSON.stringify({ online: m.online })}\n`);
    }
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const { name } = JSON.parse(body) as { name: string };
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url === CONNECT) {
        connections.set(name, (connections.get(name) ?? 0) + 1);
        openConnects.add(req);
        res.write('{}\n');
        res.on('close', () => {
          openConnects.delete(req);
          connections.set(name, connections.get(name)! - 1);
          changed();
        });
        changed();
      } else if (req.url === MONITOR) {
        const m = { name, res, online: online(name) };
        monitors.add(m);
        res.write(`${JSON.stringify({ online: m.online })}\n`);
        res.on('close', () => monitors.delete(m));
      } else {
        res.end();
      }
    });
  };
  const servers: Server[] = [createServer(handler), createServer(handler)];
  return {
    connections,
    openConnects,
    monitors,
    async start(): Promise<string[]> {
      for (const s of servers) await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
      return servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`);
    },
    async stop() {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise((resolve) => s.close(resolve));
      }
    },
  };
}

/** A page's event stream, read with fetch: events in arrival order, and a way to await one. */
async function openEvents(url: string) {
  const controller = new AbortController();
  const response = await fetch(new URL('/api/events', url), { signal: controller.signal });
  const events: Array<{ event: string; data: Record<string, unknown> }> = [];
  const waiters = new Set<() => void>();
  void (async () => {
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        const blocks = buffered.split('\n\n');
        buffered = blocks.pop()!;
        for (const block of blocks) {
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
        for (const wake of waiters) wake();
      }
    } catch {
      // aborted
    }
  })();
  /** Resolves the first event (from `from` on) that matches, waiting for it. */
  const next = async (match: (e: (typeof events)[number]) => boolean, from = 0) => {
    for (;;) {
      const found = events.slice(from).find(match);
      if (found) return found;
      await new Promise<void>((resolve) => {
        const wake = () => (waiters.delete(wake), resolve());
        waiters.add(wake);
      });
    }
  };
  const hello = await next((e) => e.event === 'hello');
  return { response, events, next, session: hello.data.session as string, nodes: hello.data.nodes, close: () => controller.abort() };
}

/** Resolves once `condition` holds, checked after each turn of the event loop (5 s at most). */
async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

t.test('a page session connects, monitors and disconnects through the gateway', async (t) => {
  const standIn = presenceStandIn();
  const nodes = await standIn.start();
  t.teardown(() => standIn.stop());
  const gateway = await startGateway({ nodes, retryMs: 50 });
  t.teardown(() => gateway.close());
  const post = (path: string, body: unknown) =>
    fetch(new URL(path, gateway.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const page = await fetch(gateway.url);
  t.equal(page.status, 200);
  t.match(await page.text(), /<title>Chat presence/, 'GET / is the page');
  const script = await fetch(new URL('/app.js', gateway.url));
  t.match(script.headers.get('content-type'), /^text\/javascript/, 'and its script');
  await script.text();

  const events = await openEvents(gateway.url);
  t.teardown(() => events.close());
  t.equal(events.nodes, 2, 'hello names the session and the number of nodes');
  t.equal(gateway.sessions.size, 1);

  t.equal((await post('/api/monitor', { session: events.session, viewer: 'bob', user: 'alice', node: 2 })).status, 204);
  t.same((await events.next((e) => e.event === 'status')).data, { viewer: 'bob', user: 'alice', node: 2, online: false }, 'the first status: offline');

  let mark = events.events.length;
  t.equal((await post('/api/connect', { session: events.session, user: 'alice', node: 1 })).status, 204);
  t.same((await events.next((e) => e.event === 'connect' && e.data.state === 'open', mark)).data, { user: 'alice', node: 1, state: 'open' }, 'the connection is open');
  t.same((await events.next((e) => e.event === 'status', mark)).data.online, true, 'bob sees alice online (node 2 watching a connection on node 1)');

  mark = events.events.length;
  t.equal((await post('/api/disconnect', { session: events.session, user: 'alice' })).status, 204);
  t.same((await events.next((e) => e.event === 'status', mark)).data.online, false, 'a disconnect cancels the Connect stream upstream: alice goes offline');
  t.equal(standIn.openConnects.size, 0, 'no Connect request is left open at the proxies');

  // A stream the proxy ends is opened again.
  mark = events.events.length;
  for (const m of standIn.monitors) m.res.end();
  const retrying = await events.next((e) => e.event === 'monitor' && e.data.state === 'retrying', mark);
  t.match(retrying.data.detail, /ended/, 'the page hears why the stream stopped');
  await events.next((e) => e.event === 'monitor' && e.data.state === 'open', mark);
  t.same((await events.next((e) => e.event === 'status', mark)).data.online, false, 'and the status again once it is back');

  // Bad requests.
  let response = await post('/api/connect', { session: events.session, user: '<script>', node: 1 });
  t.equal(response.status, 400);
  t.match(await response.text(), /user must be a user name/);
  response = await post('/api/connect', { session: events.session, user: 'carol', node: 3 });
  t.equal(response.status, 400);
  t.match(await response.text(), /node must be 1 to 2/);
  response = await post('/api/connect', { session: 'nope', user: 'carol', node: 1 });
  t.equal(response.status, 404);
  t.match(await response.text(), /no session "nope"/);
  response = await post('/api/monitor', 'not an object');
  t.equal(response.status, 400);
  t.match(await response.text(), /JSON object/);
  response = await fetch(new URL('/../../package.json', gateway.url));
  t.equal(response.status, 404, 'only the page\'s own files are served');
  await response.text();

  // A page that goes away takes its streams with it.
  await post('/api/connect', { session: events.session, user: 'carol', node: 2 });
  await until('carol connected upstream', () => standIn.openConnects.size === 1);
  events.close();
  await until('the session closed', () => gateway.sessions.size === 0);
  await until('its streams cancelled at the proxies', () => standIn.openConnects.size === 0 && standIn.monitors.size === 0);
  t.pass('closing the page cancels its connections and monitors');
});
