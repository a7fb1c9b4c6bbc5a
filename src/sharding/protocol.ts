/**
 * The sharding layer's messages between nodes and their codec. Regions talk to each other on
 * topic `sharding/<type>` (deliver, reply, not-here, hand-off requests from the coordinator),
 * and to the coordinator singleton through its `ask` (register, get-home, leaving). A frame is
 * a 4-byte length, a JSON header, then the command or reply bytes as the entity type's
 * serializer made them. Decoding validates the header; a malformed frame is `undefined` (the
 * caller drops and counts it), never an exception.
 */
import type { EntityId, RegionId, ShardId } from './types.js';

/** Region ⇄ region (and coordinator → region) headers. */
export type RegionMessage =
  | { t: 'deliver'; id: string; shard: ShardId; entityId: EntityId }
  | { t: 'reply'; id: string; ok: true }
  | { t: 'reply'; id: string; ok: false; code: string; message: string }
  | { t: 'not-here'; id: string; shard: ShardId }
  | { t: 'handoff'; shard: ShardId }
  | { t: 'handoff-done'; shard: ShardId }
  | { t: 'coordinator-started' };

/** Region → coordinator (singleton asks). */
export type CoordinatorRequest =
  | { t: 'register'; region: RegionId; shards: ShardId[] }
  | { t: 'get-home'; shard: ShardId; requester: RegionId }
  | { t: 'leaving'; region: RegionId };

/** The coordinator's answer to `get-home`: the region, or try again shortly (rebalancing, rebuilding, no region). */
export type HomeAnswer = { region: RegionId } | { retry: true };

/** Any answer of the coordinator: to `register`, the shards the region must stop (another region has them). */
export type CoordinatorAnswer = HomeAnswer | { ok: true } | { ok: true; stop: ShardId[] };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const EMPTY = new Uint8Array(0);

export function encodeFrame(header: RegionMessage, body: Uint8Array = EMPTY): Uint8Array {
  const h = encoder.encode(JSON.stringify(header));
  const out = new Uint8Array(4 + h.byteLength + body.byteLength);
  new DataView(out.buffer).setUint32(0, h.byteLength);
  out.set(h, 4);
  out.set(body, 4 + h.byteLength);
  return out;
}

const isStr = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= 1024;

function valid(m: Record<string, unknown>): boolean {
  switch (m.t) {
    case 'deliver':
      return isStr(m.id) && isStr(m.shard) && typeof m.entityId === 'string' && m.entityId.length <= 4096;
    case 'reply':
      return isStr(m.id) && (m.ok === true || (m.ok === false && typeof m.code === 'string' && typeof m.message === 'string'));
    case 'not-here':
      return isStr(m.id) && isStr(m.shard);
    case 'handoff':
    case 'handoff-done':
      return isStr(m.shard);
    case 'coordinator-started':
      return true;
    default:
      return false;
  }
}

/** The header and body of a frame, or undefined when it is not a well-formed frame. */
export function decodeFrame(data: Uint8Array): { header: RegionMessage; body: Uint8Array } | undefined {
  if (data.byteLength < 4) return undefined;
  const len = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
  if (4 + len > data.byteLength) return undefined;
  try {
    const header: unknown = JSON.parse(decoder.decode(data.subarray(4, 4 + len)));
    if (typeof header !== 'object' || header === null || !valid(header as Record<string, unknown>)) return undefined;
    return { header: header as RegionMessage, body: data.subarray(4 + len) };
  } catch {
    return undefined;
  }
}

/** How commands and replies become bytes between nodes (JSON by default; protobuf for the proxy). */
export interface Serializer {
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

export const jsonSerializer: Serializer = {
  encode: (value) => (value === undefined ? EMPTY : encoder.encode(JSON.stringify(value))),
  decode: (bytes) => (bytes.byteLength === 0 ? undefined : (JSON.parse(decoder.decode(bytes)) as unknown)),
};
