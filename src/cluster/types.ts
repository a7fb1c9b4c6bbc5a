/**
 * The words of the membership layer. A member is identified by `id`, unique per process start
 * (a restarted process at the same address is a new member, as Akka's uid makes it), and
 * reached at `address`. Its liveness status follows SWIM: alive, suspect, dead; `left` is a
 * member that said goodbye (a graceful leave, not a failure).
 *
 * Above liveness, each member owns its lifecycle state (`meta.state`: joining, up, leaving,
 * exiting), its roles and the wall-clock time it became up; it announces a change by raising
 * its incarnation, so the news travels on SWIM's gossip like a refutation does.
 */

export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

/** The lifecycle states a member announces itself. `down` and `removed` are decided by others (./lifecycle.ts). */
export type SelfState = 'joining' | 'up' | 'leaving' | 'exiting';

export interface MemberMeta {
  readonly state: SelfState;
  /** Roles, e.g. `['frontend']`: singletons and shards can be limited to a role. */
  readonly roles: readonly string[];
  /** Wall-clock ms when the member became up (0 before): orders members by age, oldest first. */
  readonly upSince: number;
  /**
   * False while the member hosts nothing (it lost quorum, or was declared dead, and has not yet
   * come back up): the others then look past it for a singleton's home instead of waiting.
   */
  readonly hosting?: boolean;
}

export interface Member {
  readonly id: string;
  readonly address: string;
  /** Raised only by the member itself, to refute suspicion of it or to announce new metadata. */
  readonly incarnation: number;
  readonly status: MemberStatus;
  /** Monotonic ms when the status last changed (local clock). */
  readonly since: number;
  readonly meta: MemberMeta;
}

/** A membership change, as the events report it. `updated`: an alive member announced new metadata. */
export type MembershipEvent =
  | { type: 'joined'; member: Member }
  | { type: 'suspected'; member: Member }
  | { type: 'recovered'; member: Member }
  | { type: 'updated'; member: Member }
  | { type: 'failed'; member: Member }
  | { type: 'left'; member: Member };
