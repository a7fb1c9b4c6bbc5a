/**
 * Member lifecycle above liveness, as Akka users know it, as pure functions:
 *
 * ```
 *   joining ──► up ──► leaving ──► exiting ──► removed      (graceful: announced by the member)
 *                │                                ▲
 *                └──(unreachable, then dead)──► down ┘       (decided here, by the downing policy)
 * ```
 *
 * A member announces joining, up, leaving and exiting itself (SWIM metadata, ./types.ts).
 * `down` is this node's verdict on a member SWIM declared dead, taken only when the downing
 * policy says this node's side of the cluster survives (./split-brain.ts); `removed` follows
 * a graceful leave or a down. Reachability is separate from the state, as in Akka: an up
 * member that stops answering stays up, unreachable, until it answers again or is downed.
 * Nothing here reads time or touches the network.
 */
import type { Member, MemberStatus, SelfState } from './types.js';

export type MemberState = SelfState | 'down' | 'removed';

/** A member as an application sees it: lifecycle state, reachability, roles, age. */
export interface ClusterMember {
  readonly id: string;
  readonly address: string;
  readonly state: MemberState;
  /** False while SWIM suspects the member or has declared it dead (and it has not been downed). */
  readonly reachable: boolean;
  /** SWIM's liveness verdict underneath the lifecycle state. */
  readonly liveness: MemberStatus;
  readonly roles: readonly string[];
  /** Wall-clock ms the member became up; 0 until then. Orders members by age. */
  readonly upSince: number;
  /** False while it hosts nothing (it lost quorum or was declared dead and is not back up yet). */
  readonly hosting: boolean;
}

export type LifecycleEventType =
  | 'member-joining'
  | 'member-up'
  | 'member-leaving'
  | 'member-exiting'
  | 'member-down'
  | 'member-removed'
  /** Same state, but a new up time (it came back up after a lost quorum), new roles, or it stopped or resumed hosting. */
  | 'member-updated'
  | 'unreachable'
  | 'reachable';

export interface LifecycleEvent {
  readonly type: LifecycleEventType;
  readonly member: ClusterMember;
}

/** The graceful path, in order; a member seen further along it passed the steps between. */
const GRACEFUL: readonly MemberState[] = ['joining', 'up', 'leaving', 'exiting', 'removed'];

/** The lifecycle view of a SWIM member; `downed` is this node's verdict (./split-brain.ts). */
export function toClusterMember(m: Member, downed: boolean): ClusterMember {
  const base = { id: m.id, address: m.address, liveness: m.status, roles: m.meta.roles, upSince: m.meta.upSince, hosting: m.meta.hosting !== false };
  if (m.status === 'left') return { ...base, state: 'removed', reachable: false };
  if (downed) return { ...base, state: 'down', reachable: false };
  return { ...base, state: m.meta.state, reachable: m.status === 'alive' };
}

/**
 * The events that take a member from `prev` to `next` (either may be undefined: first seen,
 * forgotten). A member first seen in a later state gets only that state's event; a member
 * that is down is then removed, so listeners see `member-down` followed by `member-removed`.
 * A member in the same state with a new up time, roles or hosting flag gets `member-updated`.
 */
export function lifecycleEvents(prev: ClusterMember | undefined, next: ClusterMember | undefined): LifecycleEvent[] {
  if (!next) return prev && prev.state !== 'removed' && prev.state !== 'down' ? [{ type: 'member-removed', member: { ...prev, state: 'removed', reachable: false } }] : [];
  const out: LifecycleEvent[] = [];
  if (!prev || prev.state !== next.state) {
    // Gossip keeps only the newest news, so a step of a graceful leave can be skipped here:
    // listeners still see the whole path, up → leaving → exiting → removed.
    const from = prev ? GRACEFUL.indexOf(prev.state) : -1;
    const to = GRACEFUL.indexOf(next.state);
    if (from >= 1 && to > from + 1) for (const state of GRACEFUL.slice(from + 1, to)) out.push({ type: `member-${state}`, member: { ...next, state } });
    out.push({ type: `member-${next.state}`, member: next });
    if (next.state === 'down') out.push({ type: 'member-removed', member: { ...next, state: 'removed' } });
  } else if (next.state !== 'down' && next.state !== 'removed' && !sameStanding(prev, next)) {
    out.push({ type: 'member-updated', member: next });
  }
  const wasReachable = prev ? prev.reachable : true;
  if (next.state !== 'down' && next.state !== 'removed' && wasReachable !== next.reachable) {
    out.push({ type: next.reachable ? 'reachable' : 'unreachable', member: next });
  }
  return out;
}

/** Same age, roles and hosting flag: nothing a singleton's placement depends on changed. */
const sameStanding = (a: ClusterMember, b: ClusterMember): boolean =>
  a.upSince === b.upSince && a.hosting === b.hosting && a.roles.length === b.roles.length && a.roles.every((r, i) => r === b.roles[i]);

/** Oldest first: up members by the time they became up, then by id; members not yet up last. */
export function byAge(a: Pick<ClusterMember, 'id' | 'upSince'>, b: Pick<ClusterMember, 'id' | 'upSince'>): number {
  const ua = a.upSince || Number.MAX_SAFE_INTEGER;
  const ub = b.upSince || Number.MAX_SAFE_INTEGER;
  return ua - ub || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** True when the member has `role` (no role asked: every member qualifies). */
export const hasRole = (m: Pick<ClusterMember, 'roles'>, role: string | undefined): boolean => role === undefined || m.roles.includes(role);
