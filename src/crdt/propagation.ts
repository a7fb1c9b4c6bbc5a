/**
 * Which deltas each peer still needs: the delta-interval anti-entropy of Almeida, Shoker and
 * Baquero ("Delta State Replicated Data Types", Algorithm 2: causal delta-merging), per key,
 * and the receiver's check that intervals arrive without gaps. Extracted from the replicator
 * so the decisions are testable alone (as Akka's `DeltaPropagationSelector` is). Pure state
 * machines: no time source, no I/O (the caller passes `now`).
 *
 * Sender: every local change of a key gets the next sequence number and its delta goes into a
 * bounded buffer. A peer is sent the interval from the sequence number after the last one it
 * acknowledged (1 for a peer that never acknowledged this key) up to the newest, as one delta
 * group (the join of the buffered deltas), or the full state when the buffer no longer reaches
 * back that far or the interval holds the key's deletion. Each node sends only the deltas of
 * its own changes: the others' reach every peer from them, and digest gossip repairs what a
 * node that died took with it. (Unlike the paper's Algorithm 2, received deltas are not
 * forwarded: with every member sending to every member, forwarding would multiply traffic.) An interval not acknowledged within `resendAfterMs` is sent again (messages can
 * be lost when a connection breaks); newer changes go out at once, as a longer interval.
 *
 * Receiver: an interval from a peer is applied only if it starts at or before the first
 * sequence number not yet applied from that peer (overlap is harmless: joins are idempotent),
 * so causal order holds per sender; a gap means something was lost (or the receiver forgot the
 * sender, e.g. after it was downed and came back): the interval is dropped and the receiver
 * answers with what it has applied, from where the sender starts again (`rewind`).
 */
import type { AnyCrdt } from './types.js';

/** A buffered local change: a delta, or the key's deletion. */
export type Change = AnyCrdt | 'deleted';

interface KeyLog {
  seq: number;
  /** Ascending by seq; may not reach back to 1 (trimmed). */
  buffer: { seq: number; change: Change }[];
  acked: Map<string, number>;
  sent: Map<string, { to: number; at: number }>;
}

/** One interval to send: `full` means "send the whole current state as of `to`". */
export interface Interval {
  key: string;
  from: number;
  to: number;
  /** The delta group, when the buffer covers the interval and no deletion is in it. */
  delta?: AnyCrdt;
  full: boolean;
}

export interface PropagationOptions {
  /** Deltas kept per key (older ones are dropped; a peer that needs them gets the full state). */
  maxBuffered: number;
  resendAfterMs: number;
}

export class DeltaPropagation {
  private readonly logs = new Map<string, KeyLog>();
  /** Keys with a change some peer has not acknowledged. */
  private readonly outstanding = new Set<string>();

  constructor(private readonly o: PropagationOptions) {}

  /** Records a local change of `key`; returns its sequence number. */
  record(key: string, change: Change): number {
    let log = this.logs.get(key);
    if (!log) this.logs.set(key, (log = { seq: 0, buffer: [], acked: new Map(), sent: new Map() }));
    log.seq++;
    log.buffer.push({ seq: log.seq, change });
    if (log.buffer.length > this.o.maxBuffered) log.buffer.splice(0, log.buffer.length - this.o.maxBuffered);
    this.outstanding.add(key);
    return log.seq;
  }

  /** The newest sequence number of `key` (0: never changed here). */
  seq(key: string): number {
    return this.logs.get(key)?.seq ?? 0;
  }

  /** What `peer` acknowledged of `key` (0: nothing). */
  acked(peer: string, key: string): number {
    return this.logs.get(key)?.acked.get(peer) ?? 0;
  }

  /**
   * The intervals to send `peer` now, of the outstanding keys (or only `keys`), marking them
   * sent at `now`.
   */
  due(peer: string, now: number, keys: Iterable<string> = this.outstanding): Interval[] {
    const out: Interval[] = [];
    for (const key of keys) {
      const log = this.logs.get(key);
      if (!log) continue;
      const acked = log.acked.get(peer);
      if ((acked ?? 0) >= log.seq) continue;
      const sent = log.sent.get(peer);
      if (sent && sent.to >= log.seq && now - sent.at < this.o.resendAfterMs) continue;
      log.sent.set(peer, { to: log.seq, at: now });
      out.push(intervalFor(key, log, acked));
    }
    return out;
  }

  /** `peer` acknowledged `key` up to `to`. */
  ack(peer: string, key: string, to: number): void {
    const log = this.logs.get(key);
    if (!log) return;
    if (to > (log.acked.get(peer) ?? 0)) log.acked.set(peer, Math.min(to, log.seq));
  }

  /**
   * Drops buffered deltas every one of `peers` acknowledged, and forgets keys every peer is
   * up to date with. Call with the current peers (other members, reachable or not).
   */
  collect(peers: readonly string[]): void {
    for (const key of this.outstanding) {
      const log = this.logs.get(key)!;
      let min = log.seq;
      for (const p of peers) min = Math.min(min, log.acked.get(p) ?? 0);
      if (min >= log.seq) {
        this.outstanding.delete(key);
        log.buffer.length = 0;
        log.sent.clear();
      } else if (min > 0) {
        const keep = log.buffer.findIndex((b) => b.seq > min);
        if (keep > 0) log.buffer.splice(0, keep);
      }
    }
  }

  /**
   * `peer` reported a gap: it has applied `key` only up to `applied` (it may have forgotten
   * this node, or lost an interval). The next interval starts there (the full state when
   * `applied` is 0 or the buffer no longer reaches back), at once.
   */
  rewind(peer: string, key: string, applied: number): void {
    const log = this.logs.get(key);
    if (!log) return;
    if (applied > 0) log.acked.set(peer, Math.min(applied, log.seq));
    else log.acked.delete(peer);
    log.sent.delete(peer);
    if (log.seq > applied) this.outstanding.add(key);
  }

  /** A member is gone: forget what it acknowledged. */
  forget(peer: string): void {
    for (const log of this.logs.values()) {
      log.acked.delete(peer);
      log.sent.delete(peer);
    }
  }

  /** Keys with a change not acknowledged by every peer. */
  get outstandingKeys(): ReadonlySet<string> {
    return this.outstanding;
  }
}

function intervalFor(key: string, log: KeyLog, acked: number | undefined): Interval {
  const from = (acked ?? 0) + 1;
  const first = log.buffer[0];
  if (!first || first.seq > from) return { key, from: 1, to: log.seq, full: true };
  let delta: AnyCrdt | undefined;
  for (const b of log.buffer) {
    if (b.seq < from) continue;
    if (b.change === 'deleted') return { key, from: 1, to: log.seq, full: true };
    delta = delta ? delta.merge(b.change) : b.change;
  }
  return delta ? { key, from, to: log.seq, delta, full: false } : { key, from: 1, to: log.seq, full: true };
}

/** What a receiver does with an interval. */
export type Acceptance = 'apply' | 'duplicate' | 'gap';

/** The receiver's side: per sender and key, the last sequence number applied. */
export class DeltaReceiver {
  private readonly seqs = new Map<string, Map<string, number>>();

  /** The last sequence number of `key` applied from `peer` (0: none). */
  applied(peer: string, key: string): number {
    return this.seqs.get(peer)?.get(key) ?? 0;
  }

  /** Decides on interval [from, to] of `key` from `peer`; 'apply' records it as applied. */
  accept(peer: string, key: string, from: number, to: number): Acceptance {
    let byKey = this.seqs.get(peer);
    const last = byKey?.get(key) ?? 0;
    if (to <= last) return 'duplicate';
    if (from > last + 1) return 'gap';
    if (!byKey) this.seqs.set(peer, (byKey = new Map()));
    byKey.set(key, to);
    return 'apply';
  }

  forget(peer: string): void {
    this.seqs.delete(peer);
  }
}
