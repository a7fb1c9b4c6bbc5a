/**
 * `Vote`: every node holding the entity casts one vote (this user function's is `selfVote`), and
 * the proxy tallies them over the cluster's members: `votesFor` of `totalVoters`. A local vote
 * changes `selfVote` and the tally at once (by one); the delta is `VoteDelta{self_vote}` when
 * the vote differs from the one last sent. Incoming deltas carry the proxy's tally, taken as is.
 * The usual reading: someone is online (`atLeastOne`), a quorum agrees (`majority`), all do (`all`).
 */
import type { CrdtDelta } from '../../protocol/index.js';
import { CrdtState } from './state.js';

/** The votes of the nodes holding this entity. */
export class Vote extends CrdtState {
  readonly kind = 'vote';
  #selfVote = false;
  #votesFor = 0;
  #totalVoters = 1;
  #sentVote = false;

  /** This node's vote. */
  get selfVote(): boolean {
    return this.#selfVote;
  }
  /** How many nodes vote for. */
  get votesFor(): number {
    return this.#votesFor;
  }
  /** How many nodes vote. */
  get totalVoters(): number {
    return this.#totalVoters;
  }
  /** At least one node votes for. */
  get atLeastOne(): boolean {
    return this.#votesFor > 0;
  }
  /** More than half of the nodes vote for. */
  get majority(): boolean {
    return this.#votesFor > this.#totalVoters / 2;
  }
  /** Every node votes for. */
  get all(): boolean {
    return this.#votesFor === this.#totalVoters;
  }

  /** Casts this node's vote. Returns this. */
  vote(value: boolean): this {
    if (value !== this.#selfVote) {
      this.#selfVote = value;
      this.#votesFor += value ? 1 : -1;
      this.changed(() => {
        this.#selfVote = !value;
        this.#votesFor -= value ? 1 : -1;
      });
    }
    return this;
  }

  get hasDelta(): boolean {
    return this.#selfVote !== this.#sentVote;
  }
  delta(): CrdtDelta | undefined {
    return this.hasDelta ? { vote: { self_vote: this.#selfVote } } : undefined;
  }
  resetDelta(): void {
    this.#sentVote = this.#selfVote;
  }
  applyDelta(delta: CrdtDelta): void {
    const d = this.deltaOf(delta, 'vote');
    this.#selfVote = d.self_vote ?? false;
    this.#sentVote = this.#selfVote;
    this.#votesFor = d.votes_for ?? 0;
    this.#totalVoters = d.total_voters ?? 0;
  }
  fullDelta(): CrdtDelta {
    return { vote: { self_vote: this.#selfVote, votes_for: this.#votesFor, total_voters: this.#totalVoters } };
  }
}
