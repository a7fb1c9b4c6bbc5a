/**
 * The replicator's messages between members, on one cluster topic: a version byte, then JSON.
 * Messages that carry many entries are cut into several messages of at most a byte budget
 * (`encodeBatches`), so one large exchange never becomes one huge frame. Decoding checks the
 * shape only as far as dispatch needs; a malformed message is the caller's to log and drop.
 */
import { CloudstateError } from '../core/index.js';
import type { EnvelopeJson } from './envelope.js';
import type { CrdtJson } from './types.js';

export const WIRE_VERSION = 1;

/** One interval of a key's changes: a delta group `d`, or the full envelope `env`. */
export interface DeltaEntry {
  k: string;
  f: number;
  to: number;
  d?: CrdtJson;
  env?: EnvelopeJson;
}

export type ReplicatorMessage =
  /** Delta intervals (or full states) of keys this node changed. */
  | { t: 'delta'; e: DeltaEntry[] }
  /** Acknowledges delta intervals: [key, up to seq]. */
  | { t: 'ack'; e: [string, number][] }
  /** Intervals refused for a gap: [key, last seq applied]; resend from there. */
  | { t: 'nack'; e: [string, number][] }
  /** Digests of chunk `c` of `n` of the sender's keys. */
  | { t: 'status'; c: number; n: number; d: [string, string][] }
  /** Envelopes to merge; `w`: keys the receiver should send back. */
  | { t: 'gossip'; e: [string, EnvelopeJson][]; w?: string[] }
  | { t: 'read'; id: number; k: string }
  | { t: 'read-reply'; id: number; env?: EnvelopeJson }
  /** Send me every envelope you have (a joining node). */
  | { t: 'sync' };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function frame(json: string): Uint8Array {
  const body = encoder.encode(json);
  const out = new Uint8Array(body.byteLength + 1);
  out[0] = WIRE_VERSION;
  out.set(body, 1);
  return out;
}

export function encodeMessage(m: ReplicatorMessage): Uint8Array {
  return frame(JSON.stringify(m));
}

/**
 * Messages `{"t":type,"e":[…parts]…extra}` with the parts (each an encoded JSON value) cut so
 * that each message stays under `maxBytes` (a single larger part still goes alone).
 */
export function encodeBatches(type: 'delta' | 'ack' | 'nack' | 'gossip', parts: readonly string[], maxBytes: number, extra = ''): Uint8Array[] {
  const out: Uint8Array[] = [];
  const head = `{"t":"${type}","e":[`;
  const tail = `]${extra}}`;
  let batch: string[] = [];
  let size = head.length + tail.length;
  for (const p of parts) {
    if (batch.length > 0 && size + p.length + 1 > maxBytes) {
      out.push(frame(head + batch.join(',') + tail));
      batch = [];
      size = head.length + tail.length;
    }
    batch.push(p);
    size += p.length + 1;
  }
  if (batch.length > 0) out.push(frame(head + batch.join(',') + tail));
  return out;
}

export function decodeMessage(bytes: Uint8Array): ReplicatorMessage {
  if (bytes[0] !== WIRE_VERSION) throw new CloudstateError('ERR_CRDT_DECODE', `unknown replicator message version ${String(bytes[0])}`);
  const m = JSON.parse(decoder.decode(bytes.subarray(1))) as { t?: unknown };
  if (typeof m !== 'object' || m === null || typeof m.t !== 'string') throw new CloudstateError('ERR_CRDT_DECODE', 'replicator message without a type');
  return m as ReplicatorMessage;
}
