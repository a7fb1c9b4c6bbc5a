/**
 * The membership layer's messages and their codec. A packet carries one or more messages:
 * the primary one (ping, ack, ...) and gossip piggybacked on it. Decoding validates every
 * field; a malformed packet is `undefined` (the caller drops and counts it), never an
 * exception, because peers are not trusted to send well-formed data.
 *
 * The encoding is JSON, versioned by `v`; packets stay small because gossip is bounded by a
 * byte budget (see ./broadcasts.ts).
 */

export const WIRE_VERSION = 1;

/** A member's own metadata on the wire: lifecycle state, roles, wall-clock ms it became up. */
export interface WireMeta {
  st: 'joining' | 'up' | 'leaving' | 'exiting';
  roles: string[];
  up: number;
  /** 0 while the member hosts nothing (absent: it may host). */
  h?: 0;
}

/** What one member says about another (or itself): the gossip of SWIM. */
export type Gossip =
  | { t: 'alive'; id: string; addr: string; inc: number; meta: WireMeta }
  | { t: 'suspect'; id: string; inc: number; from: string }
  | { t: 'dead'; id: string; inc: number; from: string };

export type Message =
  | { t: 'ping'; seq: number; target: string }
  | { t: 'ack'; seq: number }
  | { t: 'nack'; seq: number }
  | { t: 'ping-req'; seq: number; target: string; targetAddr: string }
  | Gossip;

/** A packet: who sent it (id and address, so an unknown sender can be answered) and its messages. */
export interface Packet {
  from: string;
  fromAddr: string;
  msgs: Message[];
}

/** One member's entry in a push-pull state exchange. */
export interface MemberDigest {
  id: string;
  addr: string;
  inc: number;
  status: 'alive' | 'suspect' | 'dead' | 'left';
  meta: WireMeta;
}

export interface PushPull {
  from: string;
  fromAddr: string;
  join: boolean;
  members: MemberDigest[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodePacket(p: Packet): Uint8Array {
  return encoder.encode(JSON.stringify({ v: WIRE_VERSION, ...p }));
}

export function encodePushPull(p: PushPull): Uint8Array {
  return encoder.encode(JSON.stringify({ v: WIRE_VERSION, ...p }));
}

const isStr = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= 512;
const isNat = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

function parse(data: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(decoder.decode(data));
    if (typeof v !== 'object' || v === null || (v as { v?: unknown }).v !== WIRE_VERSION) return undefined;
    return v as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

const SELF_STATES = new Set(['joining', 'up', 'leaving', 'exiting']);

function validMeta(m: unknown): m is WireMeta {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as Record<string, unknown>;
  return SELF_STATES.has(x.st as string) && isNat(x.up) && (x.h === undefined || x.h === 0) && Array.isArray(x.roles) && x.roles.length <= 16 && x.roles.every((r) => isStr(r) && r.length <= 64);
}

function validMessage(m: unknown): m is Message {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as Record<string, unknown>;
  switch (x.t) {
    case 'ping':
      return isNat(x.seq) && isStr(x.target);
    case 'ack':
    case 'nack':
      return isNat(x.seq);
    case 'ping-req':
      return isNat(x.seq) && isStr(x.target) && isStr(x.targetAddr);
    case 'alive':
      return isStr(x.id) && isStr(x.addr) && isNat(x.inc) && validMeta(x.meta);
    case 'suspect':
    case 'dead':
      return isStr(x.id) && isNat(x.inc) && isStr(x.from);
    default:
      return false;
  }
}

/** The packet, or undefined when it is not a well-formed packet of this version. */
export function decodePacket(data: Uint8Array): Packet | undefined {
  const v = parse(data);
  if (!v || !isStr(v.from) || !isStr(v.fromAddr) || !Array.isArray(v.msgs) || v.msgs.length === 0 || v.msgs.length > 256) return undefined;
  if (!v.msgs.every(validMessage)) return undefined;
  return { from: v.from, fromAddr: v.fromAddr, msgs: v.msgs };
}

const STATUSES = new Set(['alive', 'suspect', 'dead', 'left']);

export function decodePushPull(data: Uint8Array): PushPull | undefined {
  const v = parse(data);
  if (!v || !isStr(v.from) || !isStr(v.fromAddr) || typeof v.join !== 'boolean' || !Array.isArray(v.members)) return undefined;
  const ok = v.members.every((m: unknown) => {
    const x = m as Record<string, unknown> | null;
    return typeof x === 'object' && x !== null && isStr(x.id) && isStr(x.addr) && isNat(x.inc) && STATUSES.has(x.status as string) && validMeta(x.meta);
  });
  return ok ? { from: v.from, fromAddr: v.fromAddr, join: v.join, members: v.members as MemberDigest[] } : undefined;
}

/** Encoded size of one message, for the piggyback byte budget. */
export function messageSize(m: Message): number {
  return encoder.encode(JSON.stringify(m)).byteLength + 1;
}
