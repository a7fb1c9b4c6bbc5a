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

/**
 * Writes one record into a single buffer sized up front (the fields are few and their sizes
 * known): no buffer per field and no concatenation, as this runs for every event stored.
 */
class Writer {
  private readonly buf: Buffer;
  private pos = 5;

  /** `bodySize`: the bytes after the checksum and the version. */
  constructor(bodySize: number) {
    this.buf = Buffer.allocUnsafe(5 + bodySize);
    this.buf[4] = VERSION;
  }
  u16(n: number) {
    this.pos = this.buf.writeUInt16BE(n, this.pos);
  }
  f64(n: number) {
    this.pos = this.buf.writeDoubleBE(n, this.pos);
  }
  str(s: string) {
    const n = this.buf.write(s, this.pos + 4, 'utf8');
    this.buf.writeUInt32BE(n, this.pos);
    this.pos += 4 + n;
  }
  bytes(b: Uint8Array) {
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }
  /** The record with its checksum (of the version and the body) in front. */
  finish(): Buffer {
    if (this.pos !== this.buf.byteLength) throw new Error(`record size mismatch: wrote ${this.pos} of ${this.buf.byteLength} bytes`);
    this.buf.writeUInt32BE(crc32(this.buf.subarray(4)), 0);
    return this.buf;
  }
}

/** The encoded size of a `str` field. */
const strSize = (s: string): number => 4 + Buffer.byteLength(s, 'utf8');

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
  let size = 8 + 8 + strSize(e.writerId) + strSize(e.manifest) + 2 + e.payload.byteLength;
  for (const t of e.tags) size += strSize(t);
  const w = new Writer(size);
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
  const w = new Writer(8 + strSize(manifest) + payload.byteLength);
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
  const w = new Writer(8 + strSize(manifest) + payload.byteLength);
  w.f64(revision);
  w.str(manifest);
  w.bytes(payload);
  return w.finish();
}

export function decodeValue(record: Uint8Array): { revision: number; manifest: string; payload: Uint8Array } {
  const r = open(record);
  return { revision: r.f64(), manifest: r.str(), payload: r.rest() };
}
