/**
 * Binary encoding of the LevelDB plugin's records (pure). Every record starts with a CRC-32 of
 * the rest, so a damaged record is detected on read instead of decoding into garbage.
 *
 *   event:    crc u32 | version u8 | timestamp f64 | ordering f64 | writerId str | manifest str | tags u16 + str* | payload
 *   snapshot: crc u32 | version u8 | timestamp f64 | manifest str | payload
 *   value:    crc u32 | version u8 | revision f64 | manifest str | payload
 *
 * where str is a u32 byte length and UTF-8 bytes. The persistence id and seqNr live in the key.
 */
import { crc32 } from 'node:zlib';

const VERSION = 1;

class Writer {
  private parts: Uint8Array[] = [];
  private size = 0;
  private push(b: Uint8Array) {
    this.parts.push(b);
    this.size += b.byteLength;
  }
  u8(n: number) {
    this.push(Uint8Array.of(n));
  }
  u16(n: number) {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16BE(n);
    this.push(b);
  }
  f64(n: number) {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleBE(n);
    this.push(b);
  }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(b.byteLength);
    this.push(len);
    this.push(b);
  }
  bytes(b: Uint8Array) {
    this.push(b);
  }
  /** The record with its checksum in front. */
  finish(): Buffer {
    const body = Buffer.concat(this.parts, this.size);
    const out = Buffer.allocUnsafe(4 + body.byteLength);
    out.writeUInt32BE(crc32(body));
    body.copy(out, 4);
    return out;
  }
}

class Reader {
  private pos = 5;
  constructor(private readonly buf: Buffer) {}
  private need(n: number) {
    if (this.pos + n > this.buf.byteLength) throw new Error('record is truncated');
  }
  u16() {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  f64() {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  str() {
    this.need(4);
    const len = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
  rest(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.buf, this.pos);
  }
}

/** Checks the checksum and version; throws an Error saying what is wrong. */
function open(record: Uint8Array): Reader {
  const buf = Buffer.from(record.buffer, record.byteOffset, record.byteLength);
  if (buf.byteLength < 5) throw new Error(`record of ${buf.byteLength} bytes is too short`);
  if (buf.readUInt32BE(0) !== crc32(buf.subarray(4))) throw new Error('checksum mismatch');
  if (buf[4] !== VERSION) throw new Error(`unknown record version ${buf[4]}`);
  return new Reader(buf);
}

export interface EventFields {
  timestamp: number;
  ordering: number;
  writerId: string;
  manifest: string;
  tags: readonly string[];
  payload: Uint8Array;
}

export function encodeEvent(e: EventFields): Buffer {
  const w = new Writer();
  w.u8(VERSION);
  w.f64(e.timestamp);
  w.f64(e.ordering);
  w.str(e.writerId);
  w.str(e.manifest);
  w.u16(e.tags.length);
  for (const t of e.tags) w.str(t);
  w.bytes(e.payload);
  return w.finish();
}

export function decodeEvent(record: Uint8Array): EventFields {
  const r = open(record);
  const timestamp = r.f64();
  const ordering = r.f64();
  const writerId = r.str();
  const manifest = r.str();
  const tags = Array.from({ length: r.u16() }, () => r.str());
  return { timestamp, ordering, writerId, manifest, tags, payload: r.rest() };
}

export function encodeSnapshot(timestamp: number, manifest: string, payload: Uint8Array): Buffer {
  const w = new Writer();
  w.u8(VERSION);
  w.f64(timestamp);
  w.str(manifest);
  w.bytes(payload);
  return w.finish();
}

export function decodeSnapshot(record: Uint8Array): { timestamp: number; manifest: string; payload: Uint8Array } {
  const r = open(record);
  return { timestamp: r.f64(), manifest: r.str(), payload: r.rest() };
}

export function encodeValue(revision: number, manifest: string, payload: Uint8Array): Buffer {
  const w = new Writer();
  w.u8(VERSION);
  w.f64(revision);
  w.str(manifest);
  w.bytes(payload);
  return w.finish();
}

export function decodeValue(record: Uint8Array): { revision: number; manifest: string; payload: Uint8Array } {
  const r = open(record);
  return { revision: r.f64(), manifest: r.str(), payload: r.rest() };
}
