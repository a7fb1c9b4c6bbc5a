/**
 * The membership view: SWIM's liveness plus each member's announced lifecycle, turned into
 * the lifecycle an application sees (./lifecycle.ts) and the split-brain verdict
 * (./split-brain.ts). It listens to a SwimNode, recomputes on every change (and on a timer,
 * for members SWIM forgets silently), emits one typed event per transition, and downs dead
 * members when the downing policy says this side survives. It owns no sockets and no rules:
 * the decisions are the pure functions it calls.
 */
import { EventEmitter } from 'eventemitter3';
import type { Cancellable, Clock, Scheduler } from '../core/index.js';
import { lifecycleEvents, toClusterMember } from './lifecycle.js';
import type { ClusterMember, LifecycleEvent, LifecycleEventType } from './lifecycle.js';
import { decideQuorum, emptyQuorumState } from './split-brain.js';
import type { DowningPolicy, QuorumState } from './split-brain.js';
import type { SwimNode } from './swim.js';
import type { Member } from './types.js';

export type ViewEvents = { [K in LifecycleEventType]: [member: ClusterMember] } & {
  /** Every lifecycle event, in order. */
  change: [event: LifecycleEvent];
  /** This node can no longer reach enough of the cluster: stop hosting singletons and shards. */
  'quorum-lost': [];
  'quorum-regained': [];
};

export class MembershipView extends EventEmitter<ViewEvents> {
  private current = new Map<string, ClusterMember>();
  private readonly downed = new Set<string>();
  /** Members downed here that answered again, with the up time they had: `joining` until they announce a new one. */
  private readonly returned = new Map<string, number>();
  private quorum: QuorumState = emptyQuorumState;
  private quorumNow = true;
  private readonly timer: Cancellable;

  /** Up times of the members downed here, as they were when downed. */
  private readonly downedUpSince = new Map<string, number>();

  /**
   * @param refreshMs how often to recompute without a membership event (ms)
   * @param stableAfterMs how long the unreachable members must stay the same before the dead are downed (ms)
   * @param lossGraceMs how long a loss of quorum must last before this node acts on it (ms)
   */
  constructor(
    private readonly node: SwimNode,
    private readonly policy: DowningPolicy,
    private readonly clock: Clock,
    scheduler: Scheduler,
    refreshMs: number,
    private readonly stableAfterMs: number,
    private readonly lossGraceMs = 0,
  ) {
    super();
    node.events.on('membership', (e) => {
      // A downed member that answers again (the partition healed) is welcome back: it stopped
      // hosting while it lacked quorum, so letting it rejoin cannot make a second writer.
      // It comes back as joining until it announces a fresh up time (it does once it has quorum
      // again), so the others never hand it a singleton on the strength of its old age.
      if (e.type === 'joined' && this.downed.delete(e.member.id)) this.returned.set(e.member.id, this.downedUpSince.get(e.member.id) ?? e.member.meta.upSince);
      this.refresh();
    });
    this.timer = scheduler.scheduleRepeatedly(refreshMs, refreshMs, () => this.refresh());
    this.refresh();
  }

  /** Members not removed, this node included, oldest first is not implied (see `byAge`). */
  members(): ClusterMember[] {
    return [...this.current.values()].filter((m) => m.state !== 'removed' && m.state !== 'down');
  }

  member(id: string): ClusterMember | undefined {
    return this.current.get(id);
  }

  get self(): ClusterMember {
    return this.current.get(this.node.id)!;
  }

  /** False while this node is on the losing side of a partition (see ./split-brain.ts). */
  get hasQuorum(): boolean {
    return this.quorumNow;
  }

  /** Members this node believes make up the cluster and cannot reach now (candidates to rejoin). */
  unreachableReference(): { id: string; address: string }[] {
    return [...this.quorum.reference.values()].filter((m) => m.id !== this.node.id && this.current.get(m.id)?.reachable !== true);
  }

  stop(): void {
    this.timer.cancel();
  }

  /** Recomputes the view from SWIM's table and emits what changed. */
  refresh(): void {
    const swim = this.node.members();
    for (const m of swim) if (this.returned.has(m.id) && this.returned.get(m.id) !== m.meta.upSince) this.returned.delete(m.id);
    const toView = (m: Member) => {
      const c = toClusterMember(m, this.downed.has(m.id));
      return this.returned.has(m.id) && c.state === 'up' ? { ...c, state: 'joining' as const } : c;
    };
    let view = swim.map(toView);
    const decision = decideQuorum(this.policy, this.quorum, view, this.node.id, this.clock.monotonic(), this.stableAfterMs, this.lossGraceMs);
    this.quorum = decision.state;
    if (decision.down.length > 0) {
      for (const id of decision.down) {
        this.downed.add(id);
        this.downedUpSince.set(id, this.node.member(id)?.meta.upSince ?? 0);
      }
      view = swim.map(toView);
    }
    const next = new Map(view.map((m) => [m.id, m]));
    const events: LifecycleEvent[] = [];
    for (const [id, m] of next) events.push(...lifecycleEvents(this.current.get(id), m));
    for (const [id, m] of this.current) if (!next.has(id)) events.push(...lifecycleEvents(m, undefined));
    this.current = next;
    for (const id of this.downed) if (!next.has(id)) this.downed.delete(id);
    for (const id of this.returned.keys()) if (!next.has(id)) this.returned.delete(id);
    for (const id of this.downedUpSince.keys()) if (!next.has(id)) this.downedUpSince.delete(id);
    const quorumChanged = decision.hasQuorum !== this.quorumNow;
    this.quorumNow = decision.hasQuorum;
    for (const e of events) {
      this.emit(e.type, e.member);
      this.emit('change', e);
    }
    if (quorumChanged) this.emit(decision.hasQuorum ? 'quorum-regained' : 'quorum-lost');
  }
}
