/**
 * SWIM's membership rules as a pure decision (after memberlist's aliveNode/suspectNode/
 * deadNode): given what this node knows about a member and a piece of gossip about it, what
 * changes. Incarnation numbers order the news: only the member itself raises its own, to
 * refute suspicion; older news is ignored; a suspicion is confirmed, not restarted, by more
 * accusers of the same incarnation. The runtime (./swim.ts) carries out the decision.
 */
import type { Member, MemberMeta, MembershipEvent } from './types.js';
import type { Gossip, MemberDigest, WireMeta } from './wire.js';

/** Metadata between its wire form and its in-memory form. */
export const metaFromWire = (m: WireMeta): MemberMeta => ({ state: m.st, roles: [...m.roles], upSince: m.up, ...(m.h === 0 ? { hosting: false } : {}) });
export const metaToWire = (m: MemberMeta): WireMeta => ({ st: m.state, roles: [...m.roles], up: m.upSince, ...(m.hosting === false ? { h: 0 as const } : {}) });

const sameMeta = (a: MemberMeta, b: MemberMeta) =>
  a.state === b.state && a.upSince === b.upSince && (a.hosting !== false) === (b.hosting !== false) && a.roles.length === b.roles.length && a.roles.every((r, i) => r === b.roles[i]);

export type Decision =
  | { kind: 'ignore' }
  /** Gossip accuses this node: raise the own incarnation to `incarnation` and announce it alive. */
  | { kind: 'refute'; incarnation: number }
  /** Someone still spreads an accusation this node already refuted: announce the current incarnation again. */
  | { kind: 'reassert' }
  /** Another accuser of a suspicion already running. */
  | { kind: 'confirm'; from: string }
  | {
      kind: 'update';
      member: Member;
      event: MembershipEvent['type'] | undefined;
      /** Gossip to pass on. */
      gossip: Gossip;
      suspicion: 'start' | 'cancel' | undefined;
    };

const IGNORE: Decision = { kind: 'ignore' };

/**
 * @param current what is known of the member (undefined if nothing)
 * @param self this node's own entry
 * @param leaving this node is leaving: accusations of it are not refuted
 * @param now monotonic ms, stamped on a changed member
 */
export function decide(current: Member | undefined, self: Member, leaving: boolean, g: Gossip, now: number): Decision {
  if (g.id === self.id) {
    if (g.t === 'alive' || leaving) return IGNORE;
    if (g.t === 'dead' && g.from === self.id) return IGNORE;
    return g.inc >= self.incarnation ? { kind: 'refute', incarnation: g.inc + 1 } : { kind: 'reassert' };
  }
  switch (g.t) {
    case 'alive': {
      if (current && g.inc <= current.incarnation) return IGNORE;
      const meta = metaFromWire(g.meta);
      const event =
        !current || current.status === 'dead' || current.status === 'left'
          ? 'joined'
          : current.status === 'suspect'
            ? 'recovered'
            : sameMeta(current.meta, meta)
              ? undefined
              : 'updated';
      return {
        kind: 'update',
        member: { id: g.id, address: g.addr, incarnation: g.inc, status: 'alive', since: event === 'updated' || !event ? (current?.since ?? now) : now, meta },
        event,
        gossip: g,
        suspicion: current?.status === 'suspect' ? 'cancel' : undefined,
      };
    }
    case 'suspect': {
      if (!current || g.inc < current.incarnation || current.status === 'dead' || current.status === 'left') return IGNORE;
      if (current.status === 'suspect' && g.inc === current.incarnation) return { kind: 'confirm', from: g.from };
      return {
        kind: 'update',
        member: { ...current, incarnation: g.inc, status: 'suspect', since: now },
        event: 'suspected',
        gossip: g,
        suspicion: 'start',
      };
    }
    case 'dead': {
      if (!current || g.inc < current.incarnation || current.status === 'dead' || current.status === 'left') return IGNORE;
      const left = g.from === g.id;
      return {
        kind: 'update',
        member: { ...current, incarnation: g.inc, status: left ? 'left' : 'dead', since: now },
        event: left ? 'left' : 'failed',
        gossip: g,
        suspicion: current.status === 'suspect' ? 'cancel' : undefined,
      };
    }
  }
}

/**
 * How a peer's full state (push-pull) becomes gossip here. A peer's "dead" becomes a
 * suspicion (memberlist does the same): this node then probes the member itself rather than
 * trusting one peer's verdict, which keeps a confused peer from killing live members.
 */
export function digestToGossip(d: MemberDigest, from: string): Gossip {
  switch (d.status) {
    case 'alive':
      return { t: 'alive', id: d.id, addr: d.addr, inc: d.inc, meta: d.meta };
    case 'left':
      return { t: 'dead', id: d.id, inc: d.inc, from: d.id };
    default:
      return { t: 'suspect', id: d.id, inc: d.inc, from };
  }
}
