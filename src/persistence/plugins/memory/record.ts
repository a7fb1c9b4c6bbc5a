/**
 * An event as the memory journal keeps it: one byte array per event (timestamp, writer id,
 * manifest, tags, payload), so that a store holding hundreds of thousands of events holds one
 * object for each rather than an object, a payload copy and a tags array. Nothing outlives the
 * process, so there is no version byte or checksum.
 */
import type { PersistentRepr } from '../../spi/index.js';

/** The fields of `e` that the record keeps (persistence id and seqNr are its keys). */
export function encodeRecord(e: PersistentRepr): Uint8Array {
  const texts = [e.writerId, e.manifest, ...e.tags].map((text) => Buffer.from(text, 'utf8'));
  const size = 8 + 2 + texts.reduce((sum, text) => sum + 4 + text.byteLength, 0) + e.payload.byteLength;
  const record = Buffer.alloc(size);
  let at = record.writeDoubleBE(e.timestamp, 0);
  at = record.writeUInt16BE(e.tags.length, at);
  for (const text of texts) {
    at = record.writeUInt32BE(text.byteLength, at);
    at += text.copy(record, at);
  }
  record.set(e.payload, at);
  return record;
}

/** The event `record` holds (its payload a view of the record, which is never changed). */
export function decodeRecord(persistenceId: string, seqNr: number, record: Uint8Array): PersistentRepr {
  const buf = Buffer.from(record.buffer, record.byteOffset, record.byteLength);
  const timestamp = buf.readDoubleBE(0);
  const tagCount = buf.readUInt16BE(8);
  let at = 10;
  const text = () => {
    const length = buf.readUInt32BE(at);
    const value = buf.toString('utf8', at + 4, at + 4 + length);
    at += 4 + length;
    return value;
  };
  const writerId = text();
  const manifest = text();
  const tags = Array.from({ length: tagCount }, text);
  return { persistenceId, seqNr, payload: buf.subarray(at), manifest, writerId, timestamp, tags };
}
