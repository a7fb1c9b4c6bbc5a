/**
 * Passivation policies: which active entities a shard region stops (until their next command)
 * to bound memory. Each policy is a small in-memory bookkeeping object the runtime feeds with
 * every command (`onAccess`) and every stop (`onStop`); it owns only the choice of victims, never
 * the stopping itself, and reads no clock (`now` is passed in, monotonic ms).
 *
 * Every entity a policy returns (from `onAccess` or `idle`) is forgotten by it at once, as if
 * stopped: the runtime is expected to passivate it, and its later `onStop` is harmless. An
 * entity is never returned by the `onAccess` that named it.
 *
 * - `idleTimeout`: stop what has had no command for a while.
 * - `lru`: at most `limit` active; the least recently used go first.
 * - `windowTinyLfu`: at most `limit` active, chosen by W-TinyLFU (Einziger, Friedman & Manes,
 *   "TinyLFU: A Highly Efficient Cache Admission Policy", 2017; Caffeine; Akka's default
 *   strategy since 2.6.18): frequency decides who stays, so a scan of cold entities does not
 *   flush the hot ones as it does under LRU.
 */
import { CloudstateError } from '../core/index.js';
import { fnv1a32 } from './shard-id.js';
import type { EntityId, PassivationPolicy } from './types.js';

export interface LimitOptions {
  /** At most this many active entities (a positive integer). */
  readonly limit: number;
  /** Also passivate entities with no command for this long, ms (default: never). */
  readonly idleTimeoutMs?: number;
}

function config(name: string, value: number, integer: boolean): number {
  if (!(value > 0 && Number.isFinite(value)) || (integer && !Number.isInteger(value))) {
    throw new CloudstateError('ERR_SHARDING_CONFIG', `${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`);
  }
  return value;
}

interface Node {
  readonly id: EntityId;
  at: number;
  prev: Node | undefined;
  next: Node | undefined;
}

/**
 * Entities in recency order, least recent first, each with its last access time: a Map to
 * doubly linked nodes, O(1) per operation. (A Map re-inserted on access is not O(1) in V8:
 * deleted entries stay as holes at the front until a rehash, and finding the first live
 * entry walks over them; at 20,000 entities that cost 30 µs per eviction.) `now` is
 * monotonic, so recency order is time order and `idle` stops at the first entity that is not
 * idle (it costs the number of idle entities, plus one).
 */
class RecencyList {
  private readonly nodes = new Map<EntityId, Node>();
  private head: Node | undefined;
  private tail: Node | undefined;

  get size(): number {
    return this.nodes.size;
  }

  has(entityId: EntityId): boolean {
    return this.nodes.has(entityId);
  }

  /** Adds the entity, or moves it, to the most recent end, accessed at `now`. */
  touch(entityId: EntityId, now: number): void {
    const node = this.nodes.get(entityId) ?? { id: entityId, at: now, prev: undefined, next: undefined };
    if (this.nodes.has(entityId)) this.unlink(node);
    else this.nodes.set(entityId, node);
    node.at = now;
    node.prev = this.tail;
    node.next = undefined;
    if (this.tail === undefined) this.head = node;
    else this.tail.next = node;
    this.tail = node;
  }

  /** Removes the entity; false when it was not here. */
  delete(entityId: EntityId): boolean {
    const node = this.nodes.get(entityId);
    if (node === undefined) return false;
    this.unlink(node);
    this.nodes.delete(entityId);
    return true;
  }

  /** The least recently used entity (undefined when there is none). */
  oldest(): EntityId | undefined {
    return this.head?.id;
  }

  /** The entities with no access for `timeoutMs` or more at `now`, least recent first (not removed). */
  idle(now: number, timeoutMs: number | undefined): EntityId[] {
    const idle: EntityId[] = [];
    if (timeoutMs === undefined) return idle;
    for (let node = this.head; node !== undefined && now - node.at >= timeoutMs; node = node.next) idle.push(node.id);
    return idle;
  }

  private unlink(node: Node): void {
    if (node.prev === undefined) this.head = node.next;
    else node.prev.next = node.next;
    if (node.next === undefined) this.tail = node.prev;
    else node.next.prev = node.prev;
  }
}

/** How often to look for idle entities: half the timeout, at least 100 ms (undefined: no timeout). */
function checkInterval(idleTimeoutMs: number | undefined): number | undefined {
  return idleTimeoutMs === undefined ? undefined : Math.max(100, idleTimeoutMs / 2);
}

/** Recency alone: at most `limit` active (LRU), and those idle for `timeoutMs` (if given). */
function recencyPolicy(limit: number, timeoutMs: number | undefined): PassivationPolicy {
  const times = new RecencyList();
  return {
    checkIntervalMs: checkInterval(timeoutMs),
    onAccess(entityId, now) {
      times.touch(entityId, now);
      const evicted: EntityId[] = [];
      for (let victim = times.oldest(); times.size > limit && victim !== undefined; victim = times.oldest()) {
        times.delete(victim);
        evicted.push(victim);
      }
      return evicted;
    },
    onStop: (entityId) => times.delete(entityId),
    idle(now) {
      const idle = times.idle(now, timeoutMs);
      for (const id of idle) times.delete(id);
      return idle;
    },
  };
}

/**
 * Passivates entities that got no command for `ms` (a positive number): `idle(now)` returns
 * them, least recently used first; `onAccess` never passivates. `checkIntervalMs` is `ms / 2`,
 * at least 100 ms. Throws `ERR_SHARDING_CONFIG` on a bad `ms`.
 */
export function idleTimeout(ms: number): PassivationPolicy {
  return recencyPolicy(Infinity, config('idle timeout', ms, false));
}

/**
 * At most `limit` active entities: the `onAccess` of an entity that makes them `limit + 1`
 * returns the least recently used one. With `idleTimeoutMs`, `idle(now)` also returns the
 * entities idle that long. O(1) per access. Throws `ERR_SHARDING_CONFIG` on bad options.
 */
export function lru(options: LimitOptions): PassivationPolicy {
  const timeoutMs = options.idleTimeoutMs === undefined ? undefined : config('idleTimeoutMs', options.idleTimeoutMs, false);
  return recencyPolicy(config('limit', options.limit, true), timeoutMs);
}

/**
 * A count-min sketch of access frequencies: 4 rows of saturating 4-bit counters (0–15, kept in
 * bytes for simplicity), each row a power of two at least `4 × limit` wide (Caffeine's
 * density, 16 counters per entry: narrower, a scan of cold entities inflates the estimates).
 * After `10 × limit` increments every counter is halved, so old popularity fades (TinyLFU's
 * "reset", aging).
 * The estimate is the minimum over the rows: never below the true (aged) count.
 */
class FrequencySketch {
  private readonly width: number;
  private readonly table: Uint8Array;
  private readonly sampleSize: number;
  private additions = 0;

  constructor(limit: number) {
    this.width = 2 ** Math.ceil(Math.log2(Math.max(64, 4 * limit)));
    this.table = new Uint8Array(4 * this.width);
    this.sampleSize = 10 * Math.max(16, limit);
  }

  /** The counter of `hash` in `row`: one 32-bit hash, re-mixed per row (murmur3's fmix32). */
  private slot(hash: number, row: number): number {
    let h = (hash + Math.imul(row + 1, 0x9e3779b9)) | 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    return row * this.width + ((h >>> 0) & (this.width - 1));
  }

  increment(entityId: EntityId): void {
    const hash = fnv1a32(entityId);
    let added = false;
    for (let row = 0; row < 4; row++) {
      const i = this.slot(hash, row);
      if (this.table[i]! < 15) {
        this.table[i]!++;
        added = true;
      }
    }
    if (added && ++this.additions >= this.sampleSize) {
      for (let i = 0; i < this.table.length; i++) this.table[i]! >>>= 1;
      this.additions >>>= 1;
    }
  }

  frequency(entityId: EntityId): number {
    const hash = fnv1a32(entityId);
    let min = 15;
    for (let row = 0; row < 4; row++) min = Math.min(min, this.table[this.slot(hash, row)]!);
    return min;
  }
}

/**
 * At most `limit` active entities, chosen by W-TinyLFU. The active entities sit in three LRU
 * lists: a window (1 % of `limit`, at least one) that every new entity enters, and a main area
 * (the rest) split into probation (20 %) and protected (80 %). An entity leaving the window
 * is admitted to probation if there is room, else only if the sketch estimates it more
 * frequent than probation's LRU entity (which is then passivated); otherwise it is passivated
 * itself. A hit in probation promotes to protected; protected's overflow drops back to
 * probation. Ties reject the newcomer (Caffeine adds a random admission of warm candidates
 * against hash flooding; this policy is pure and does not). O(1) per access (the sketch costs 4
 * counters). `idleTimeoutMs` as in `lru`. Throws `ERR_SHARDING_CONFIG` on bad options.
 */
export function windowTinyLfu(options: LimitOptions): PassivationPolicy {
  const limit = config('limit', options.limit, true);
  const timeoutMs = options.idleTimeoutMs === undefined ? undefined : config('idleTimeoutMs', options.idleTimeoutMs, false);
  const windowLimit = Math.max(1, Math.floor(limit / 100));
  const mainLimit = limit - windowLimit;
  const protectedLimit = Math.floor(mainLimit * 0.8);
  // Three LRU lists; `times` keeps the last access of all of them, for `idle`.
  const window = new RecencyList();
  const probation = new RecencyList();
  const protectedArea = new RecencyList();
  const sketch = new FrequencySketch(limit);
  const times = new RecencyList();
  const forget = (id: EntityId): void => {
    times.delete(id);
    window.delete(id);
    probation.delete(id);
    protectedArea.delete(id);
  };
  /** The entity evicted from the window: admitted to main, or the one to passivate. */
  const admit = (candidate: EntityId, now: number): EntityId | undefined => {
    if (probation.size + protectedArea.size < mainLimit) {
      probation.touch(candidate, now);
      return undefined;
    }
    const victim = probation.oldest() ?? protectedArea.oldest();
    if (victim === undefined || sketch.frequency(candidate) <= sketch.frequency(victim)) return candidate;
    forget(victim);
    probation.touch(candidate, now);
    return victim;
  };
  return {
    checkIntervalMs: checkInterval(timeoutMs),
    onAccess(entityId, now) {
      sketch.increment(entityId);
      times.touch(entityId, now);
      if (window.has(entityId)) {
        window.touch(entityId, now);
      } else if (protectedArea.has(entityId)) {
        protectedArea.touch(entityId, now);
      } else if (probation.has(entityId)) {
        probation.delete(entityId);
        protectedArea.touch(entityId, now);
        for (let demoted = protectedArea.oldest(); protectedArea.size > protectedLimit && demoted !== undefined; demoted = protectedArea.oldest()) {
          protectedArea.delete(demoted);
          probation.touch(demoted, now);
        }
      } else {
        window.touch(entityId, now);
        if (window.size > windowLimit) {
          const candidate = window.oldest()!;
          window.delete(candidate);
          const passivated = admit(candidate, now);
          if (passivated !== undefined) {
            times.delete(passivated);
            return [passivated];
          }
        }
      }
      return [];
    },
    onStop: forget,
    idle(now) {
      const idle = times.idle(now, timeoutMs);
      for (const id of idle) forget(id);
      return idle;
    },
  };
}
