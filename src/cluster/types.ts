/**
 * The words of the membership layer. A member is identified by `id`, unique per process start
 * (a restarted process at the same address is a new member, as Akka's uid makes it), and
 * reached at `address`. Its liveness status follows SWIM: alive, suspect, dead; `left` is a
 * member that said goodbye (a graceful leave, not a failure).
 */

export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

export interface Member {
  readonly id: string;
  readonly address: string;
  /** Raised only by the member itself, to refute suspicion of it. */
  readonly incarnation: number;
  readonly status: MemberStatus;
  /** Monotonic ms when the status last changed (local clock). */
  readonly since: number;
}

/** A membership change, as the events report it. */
export type MembershipEvent =
  | { type: 'joined'; member: Member }
  | { type: 'suspected'; member: Member }
  | { type: 'recovered'; member: Member }
  | { type: 'failed'; member: Member }
  | { type: 'left'; member: Member };
