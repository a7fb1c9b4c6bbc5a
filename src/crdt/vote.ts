/**
 * Vote: each node casts one boolean vote, and every replica can tell how many nodes vote and
 * how many vote for (the Cloudstate protocol's `Vote` CRDT: `VoteDelta{self_vote, votes_for,
 * total_voters}`, used e.g. to track presence: a user is online while any node votes for).
 * Each node's vote is a register only that node writes, versioned by a counter it increments
 * on every change; the join keeps the higher version per node (a delta-state CRDT in the sense
 * of Almeida, Shoker, Baquero, "Delta State Replicated Data Types"; after Cloudstate's
 * `Vote` ddata type and Akka Distributed Data's map-of-registers shape). A removed node no
 * longer votes: pruning drops its entry (it does not fold into another node: a vote is not
 * a quantity).
 */
import { assertKind, sortedRecord } from './types.js';
import type { Crdt } from './types.js';

export interface NodeVote {
  readonly vote: boolean;
  /** Incremented by the voting node on every change of its vote. */
  readonly version: number;
}

export class Vote implements Crdt<Vote> {
  static readonly empty = new Vote(new Map());
  readonly kind = 'vote' as const;

  constructor(
    readonly votes: ReadonlyMap<string, NodeVote>,
    readonly delta: Vote | undefined = undefined,
  ) {}

  /** Nodes voting for (among those that ever voted; see `tally` for the protocol's count). */
  get votesFor(): number {
    let n = 0;
    for (const v of this.votes.values()) if (v.vote) n++;
    return n;
  }

  /** Nodes that have voted (either way); see `tally` for the protocol's count over members. */
  get totalVoters(): number {
    return this.votes.size;
  }

  /**
   * The vote as the Cloudstate proxy reports it (`VoteDelta.votes_for`/`total_voters`): every
   * member given (the cluster's up members) is a voter, voting for only if its latest vote is
   * for; votes of nodes not given do not count.
   */
  tally(members: Iterable<string>): { votesFor: number; totalVoters: number } {
    let votesFor = 0;
    let totalVoters = 0;
    for (const m of members) {
      totalVoters++;
      if (this.votes.get(m)?.vote) votesFor++;
    }
    return { votesFor, totalVoters };
  }

  /** `node`'s vote (false when it has not voted). */
  voteOf(node: string): boolean {
    return this.votes.get(node)?.vote ?? false;
  }

  /**
   * Sets `node`'s vote. A node that has not voted yet becomes a voter even when voting
   * against (it then counts in `totalVoters`).
   */
  vote(node: string, vote: boolean): Vote {
    const cur = this.votes.get(node);
    if (cur && cur.vote === vote) return this;
    const v: NodeVote = { vote, version: (cur?.version ?? 0) + 1 };
    const d = new Vote(new Map([[node, v]]));
    return new Vote(new Map(this.votes).set(node, v), this.delta ? this.delta.merge(d) : d);
  }

  merge(other: Vote): Vote {
    const out = new Map(this.votes);
    for (const [n, v] of other.votes) {
      const mine = out.get(n);
      if (!mine || v.version > mine.version || (v.version === mine.version && v.vote && !mine.vote)) out.set(n, v);
    }
    return new Vote(out);
  }

  mergeDelta(delta: Vote): Vote {
    return this.merge(delta);
  }

  resetDelta(): Vote {
    return this.delta === undefined ? this : new Vote(this.votes);
  }

  modifiedByNodes(): ReadonlySet<string> {
    return new Set(this.votes.keys());
  }

  needPruningFrom(removedNode: string): boolean {
    return this.votes.has(removedNode);
  }

  prune(removedNode: string): Vote {
    return this.pruningCleanup(removedNode);
  }

  pruningCleanup(removedNode: string): Vote {
    if (!this.votes.has(removedNode)) return this;
    const out = new Map(this.votes);
    out.delete(removedNode);
    return new Vote(out);
  }

  toJSON() {
    return { t: 'vo', v: sortedRecord(this.votes, (v) => [v.version, v.vote ? 1 : 0]) };
  }

  static fromJSON(json: { t: string; v?: Record<string, [number, number]> }): Vote {
    assertKind(json, 'vo', 'vote');
    const votes = new Map<string, NodeVote>();
    for (const [n, [version, vote]] of Object.entries(json.v ?? {})) votes.set(n, { version, vote: vote === 1 });
    return new Vote(votes);
  }
}
