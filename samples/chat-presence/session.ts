/**
 * A browser page's session at the gateway: the presence streams it asked for, and the events
 * they produce, sent to the page over its one event stream. A page asks to connect a user
 * through a node (a `Connect` stream, held open until `disconnect`) and to monitor a user
 * through a node for one of its users' views (a `Monitor` stream). Everything the session holds
 * is closed with it, so a page that goes away leaves no user online behind it.
 *
 * Events (the event stream's `event:` and JSON `data:`):
 *   connect  {user, node, state: 'opening'|'open'|'retrying'|'closed', detail?}
 *   monitor  {viewer, user, node, state: 'opening'|'open'|'retrying', detail?}
 *   status   {viewer, user, node, online}
 */
import { openStream, type UpstreamStream } from './upstream.js';

/** The presence service's methods, as the proxy's HTTP ingress serves them. */
export const CONNECT = '/cloudstate.samples.chat.presence.Presence/Connect';
export const MONITOR = '/cloudstate.samples.chat.presence.Presence/Monitor';

/** Sends one event to the page. */
export type SendEvent = (event: 'connect' | 'monitor' | 'status', data: Record<string, unknown>) => void;

export class Session {
  readonly #connects = new Map<string, UpstreamStream>();
  readonly #monitors = new Map<string, UpstreamStream>();
  #closed = false;

  /**
   * @param nodes the proxies' HTTP base URLs; node `n` (from 1) is `nodes[n - 1]`
   * @param send where the session's events go
   * @param retryMs delay before a failed stream is opened again
   */
  constructor(
    readonly id: string,
    private readonly nodes: readonly string[],
    private readonly send: SendEvent,
    private readonly retryMs = 1000,
  ) {}

  /** The base URL of node `node` (from 1); throws a RangeError for a node that does not exist. */
  #node(node: number): string {
    const url = this.nodes[node - 1];
    if (!Number.isInteger(node) || url === undefined) throw new RangeError(`no node ${node} (nodes 1 to ${this.nodes.length})`);
    return url;
  }

  /** Connects `user` through `node`, replacing a connection of theirs this session already has. */
  connect(user: string, node: number): void {
    const url = this.#node(node);
    if (this.#closed) return;
    this.#connects.get(user)?.close();
    const stream = openStream(url, CONNECT, { name: user }, {
      onMessage: () => this.send('connect', { user, node, state: 'open' }),
      onState: (state, detail) => this.send('connect', { user, node, state, ...(detail === undefined ? {} : { detail }) }),
    }, { retryMs: this.retryMs });
    this.#connects.set(user, stream);
  }

  /** Ends `user`'s connection (the proxy cancels the stream; the user function withdraws the vote). */
  disconnect(user: string): void {
    const stream = this.#connects.get(user);
    if (stream === undefined) return;
    stream.close();
    this.#connects.delete(user);
    this.send('connect', { user, state: 'closed' });
  }

  /** Monitors `user` through `node` for `viewer`'s view (again, if already monitored). */
  monitor(viewer: string, user: string, node: number): void {
    const url = this.#node(node);
    if (this.#closed) return;
    const key = `${viewer}\n${user}`;
    this.#monitors.get(key)?.close();
    const stream = openStream(url, MONITOR, { name: user }, {
      onMessage: (message) => this.send('status', { viewer, user, node, online: message.online === true }),
      onState: (state, detail) => this.send('monitor', { viewer, user, node, state, ...(detail === undefined ? {} : { detail }) }),
    }, { retryMs: this.retryMs });
    this.#monitors.set(key, stream);
  }

  /** The number of open streams (connections and monitors). */
  get streams(): number {
    return this.#connects.size + this.#monitors.size;
  }

  /** Closes every stream of the session; later requests are ignored. */
  close(): void {
    this.#closed = true;
    for (const stream of [...this.#connects.values(), ...this.#monitors.values()]) stream.close();
    this.#connects.clear();
    this.#monitors.clear();
  }
}
