/**
 * Which shard an entity belongs to. Every node must compute the same shard for the same
 * entity id, today and after an upgrade, or two nodes would each think they own one entity:
 * so the hash is fixed here, written out, and covered by known-answer tests. It must not
 * change; a new scheme would need a new function and a migration.
 *
 * The hash is FNV-1a, 32 bits (offset basis 2166136261, prime 16777619), over the UTF-8
 * bytes of the id (a lone surrogate is encoded as U+FFFD, as `TextEncoder` does), reduced
 * modulo the number of shards. Pure: no state, no I/O.
 */
import { CloudstateError } from '../core/index.js';
import type { ShardId } from './types.js';

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** One FNV-1a step: the hash `h` with one more byte `b`. */
const step = (h: number, b: number): number => Math.imul(h ^ b, FNV_PRIME);

/** FNV-1a 32 of the UTF-8 encoding of `text`, an unsigned 32-bit integer. Stable across versions. */
export function fnv1a32(text: string): number {
  let h = FNV_OFFSET_BASIS;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      h = step(h, c);
      continue;
    }
    if (c < 0x800) {
      h = step(h, 0xc0 | (c >> 6));
      h = step(h, 0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = text.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        h = step(h, 0xf0 | (c >> 18));
        h = step(h, 0x80 | ((c >> 12) & 0x3f));
        h = step(h, 0x80 | ((c >> 6) & 0x3f));
        h = step(h, 0x80 | (c & 0x3f));
        continue;
      }
      c = 0xfffd; // a lone surrogate: the replacement character, as TextEncoder encodes it
    }
    h = step(h, 0xe0 | (c >> 12));
    h = step(h, 0x80 | ((c >> 6) & 0x3f));
    h = step(h, 0x80 | (c & 0x3f));
  }
  return h >>> 0;
}

/** The total order on ids (plain UTF-16 code-unit order) that breaks every tie in sharding decisions. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Throws `ERR_SHARDING_CONFIG` unless `numberOfShards` is an integer from 1 to 2^32 (more
 * shards than hash values would leave some forever empty).
 */
export function checkNumberOfShards(numberOfShards: number): void {
  if (!Number.isInteger(numberOfShards) || numberOfShards < 1 || numberOfShards > 2 ** 32) {
    throw new CloudstateError('ERR_SHARDING_CONFIG', `numberOfShards must be an integer from 1 to 2^32, got ${String(numberOfShards)}`);
  }
}

/**
 * The shard of `entityId`: `fnv1a32(entityId) mod numberOfShards`, as a decimal string
 * ("0" … `numberOfShards - 1`). The same on every node and across versions. Throws a
 * `CloudstateError` `ERR_SHARDING_CONFIG` when `numberOfShards` is not a positive integer.
 */
export function shardOf(entityId: string, numberOfShards: number): ShardId {
  checkNumberOfShards(numberOfShards);
  return String(fnv1a32(entityId) % numberOfShards);
}
