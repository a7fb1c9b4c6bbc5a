/**
 * Digests for anti-entropy (after Akka Distributed Data's gossip of `Status` digests): each
 * key's envelope has a short digest of its canonical encoding; replicas exchange the digests
 * of one chunk of their keys at a time and send each other the envelopes that differ. Keys
 * are split into chunks by a hash of the key, so both sides agree on a chunk's keys without
 * listing them. Pure.
 */
import { createHash } from 'node:crypto';

/** The digest of an encoded envelope (12 base64 characters of SHA-1: a collision only delays a repair). */
export function digestOf(encoded: string): string {
  return createHash('sha1').update(encoded).digest('base64').slice(0, 12);
}

/** FNV-1a of the key, for chunking. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** How many chunks `keys` keys make at `perChunk` keys per chunk (at least 1). */
export function chunkCount(keys: number, perChunk: number): number {
  return Math.max(1, Math.ceil(keys / perChunk));
}

export function chunkOf(key: string, chunks: number): number {
  return keyHash(key) % chunks;
}

/**
 * Compares a peer's digests of chunk `chunk` of `chunks` with ours. `send`: our keys whose
 * envelope the peer lacks or has differently; `want`: keys the peer has that we lack or have
 * differently (it should send them back).
 */
export function compareDigests(args: {
  theirs: ReadonlyArray<readonly [string, string]>;
  chunk: number;
  chunks: number;
  ourKeys: Iterable<string>;
  ourDigest: (key: string) => string | undefined;
}): { send: string[]; want: string[] } {
  const send: string[] = [];
  const want: string[] = [];
  const seen = new Set<string>();
  for (const [key, digest] of args.theirs) {
    seen.add(key);
    const ours = args.ourDigest(key);
    if (ours === undefined) want.push(key);
    else if (ours !== digest) {
      send.push(key);
      want.push(key);
    }
  }
  for (const key of args.ourKeys) if (!seen.has(key) && chunkOf(key, args.chunks) === args.chunk) send.push(key);
  return { send, want };
}
