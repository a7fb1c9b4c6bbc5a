/**
 * The pure parts of reliable messaging (./messaging.ts): the binary frames that travel on a
 * messaging stream, the per-peer outbound queue with its byte accounting, and the reconnect
 * backoff. No I/O, no timers, no clock: everything here is decided from its arguments, so it
 * is tested by tables.
 *
 * Frames (all integers big-endian):
 *
 *   hello    0x01 version:u8 fromId:str16 fromAddress:str16 toId:str16
 *   batch    0x02 count:u32 { topic:str16 payloadLength:u32 payload }*count
 *   refused  0x03 reason:str16      (the receiver is not `toId`; then it closes)
 *
 * where str16 is a u16 byte length and that many bytes of UTF-8.
 */

export const FRAME_HELLO = 0x01;
export const FRAME_BATCH = 0x02;
export const FRAME_REFUSED = 0x03;
export const PROTOCOL_VERSION = 1;
/** The longest topic, in UTF-8 bytes (its length travels as a u16). */
export const MAX_TOPIC_BYTES = 0xffff;

export interface Hello {
  fromId: string;
  fromAddress: string;
  toId: string;
}

/** One message as queued: the topic already encoded (encoded once per topic, then shared). */
export interface OutboundMessage {
  topic: Uint8Array;
  payload: Uint8Array;
}

export interface InboundMessage {
  topic: string;
  /** A view into the received frame (not copied); valid for as long as the handler keeps it. */
  payload: Uint8Array;
}

export type DecodedFrame =
  | { kind: 'hello'; hello: Hello }
  | { kind: 'batch'; messages: InboundMessage[] }
  | { kind: 'refused'; reason: string };

const utf8 = new TextEncoder();

/** Bytes a message takes inside a batch frame (its encoded size, which is also what the queue counts). */
export function messageBytes(m: OutboundMessage): number {
  return 6 + m.topic.byteLength + m.payload.byteLength;
}

function str16(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length > MAX_TOPIC_BYTES) throw new RangeError(`string of ${bytes.length} bytes is longer than ${MAX_TOPIC_BYTES}`);
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

export function encodeHello(h: Hello): Uint8Array {
  return Buffer.concat([Buffer.from([FRAME_HELLO, PROTOCOL_VERSION]), str16(h.fromId), str16(h.fromAddress), str16(h.toId)]);
}

export function encodeRefused(reason: string): Uint8Array {
  return Buffer.concat([Buffer.from([FRAME_REFUSED]), str16(reason.slice(0, 200))]);
}

/** Encodes a topic once, for `OutboundMessage.topic`; throws RangeError past `MAX_TOPIC_BYTES`. */
export function encodeTopic(topic: string): Uint8Array {
  const bytes = utf8.encode(topic);
  if (bytes.byteLength > MAX_TOPIC_BYTES) throw new RangeError(`topic of ${bytes.byteLength} bytes is longer than ${MAX_TOPIC_BYTES}`);
  return bytes;
}

/** One batch frame holding `messages` in order; `bytes` is the sum of their `messageBytes`. */
export function encodeBatch(messages: readonly OutboundMessage[], bytes: number): Uint8Array {
  const out = Buffer.allocUnsafe(5 + bytes);
  out[0] = FRAME_BATCH;
  out.writeUInt32BE(messages.length, 1);
  let off = 5;
  for (const m of messages) {
    out.writeUInt16BE(m.topic.byteLength, off);
    out.set(m.topic, off + 2);
    off += 2 + m.topic.byteLength;
    out.writeUInt32BE(m.payload.byteLength, off);
    out.set(m.payload, off + 4);
    off += 4 + m.payload.byteLength;
  }
  if (off !== out.length) throw new RangeError(`batch bytes ${bytes} do not match its messages (${off - 5})`);
  return out;
}

/** Decodes any messaging frame; `undefined` when it is malformed (unknown kind, truncated, trailing bytes). */
export function decodeFrame(frame: Uint8Array): DecodedFrame | undefined {
  const b = Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (b.length === 0) return undefined;
  let off = 1;
  const readStr = (): string | undefined => {
    if (off + 2 > b.length) return undefined;
    const len = b.readUInt16BE(off);
    if (off + 2 + len > b.length) return undefined;
    const s = b.toString('utf8', off + 2, off + 2 + len);
    off += 2 + len;
    return s;
  };
  switch (b[0]) {
    case FRAME_HELLO: {
      if (b.length < 2 || b[1] !== PROTOCOL_VERSION) return undefined;
      off = 2;
      const fromId = readStr();
      const fromAddress = readStr();
      const toId = readStr();
      if (fromId === undefined || fromAddress === undefined || toId === undefined || off !== b.length) return undefined;
      return { kind: 'hello', hello: { fromId, fromAddress, toId } };
    }
    case FRAME_REFUSED: {
      const reason = readStr();
      return reason === undefined || off !== b.length ? undefined : { kind: 'refused', reason };
    }
    case FRAME_BATCH: {
      if (b.length < 5) return undefined;
      const count = b.readUInt32BE(1);
      // Each message takes at least 6 bytes: a count the frame cannot hold is garbage.
      if (count * 6 > b.length - 5) return undefined;
      off = 5;
      const messages: InboundMessage[] = new Array(count);
      for (let i = 0; i < count; i++) {
        const topic = readStr();
        if (topic === undefined || off + 4 > b.length) return undefined;
        const len = b.readUInt32BE(off);
        if (off + 4 + len > b.length) return undefined;
        messages[i] = { topic, payload: b.subarray(off + 4, off + 4 + len) };
        off += 4 + len;
      }
      return off === b.length ? { kind: 'batch', messages } : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The messages waiting for one peer, in send order, with their bytes counted. The bound is
 * soft by one message: a message is admitted when the queue is empty (so any message up to
 * the size limit can pass) or when it fits under `maxBytes`.
 */
export class OutboundQueue {
  private items: OutboundMessage[] = [];
  private head = 0;
  private queued = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.queued;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** Whether a message of `size` bytes may be queued now. */
  admits(size: number): boolean {
    return this.length === 0 || this.queued + size <= this.maxBytes;
  }

  push(m: OutboundMessage): void {
    this.items.push(m);
    this.queued += messageBytes(m);
  }

  /**
   * Takes the oldest messages, in order, up to `maxBatchBytes` of encoded size (at least one
   * message, however big), and returns them with their byte count; empty when nothing is queued.
   */
  take(maxBatchBytes: number): { messages: OutboundMessage[]; bytes: number } {
    const messages: OutboundMessage[] = [];
    let bytes = 0;
    while (this.head < this.items.length) {
      const m = this.items[this.head]!;
      const size = messageBytes(m);
      if (messages.length > 0 && bytes + size > maxBatchBytes) break;
      messages.push(m);
      bytes += size;
      this.head++;
    }
    this.queued -= bytes;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return { messages, bytes };
  }

  /** Empties the queue and returns how many messages it held. */
  clear(): number {
    const n = this.length;
    this.items = [];
    this.head = 0;
    this.queued = 0;
    return n;
  }
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry), in ms: exponential
 * from `baseMs`, doubling per attempt, capped at `maxMs`. Deterministic (no jitter): the
 * caller adds jitter if it has a random source.
 */
export function reconnectBackoffMs(attempt: number, baseMs = 100, maxMs = 5000): number {
  if (!(attempt >= 0)) return baseMs;
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
}
