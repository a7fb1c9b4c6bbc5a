/**
 * gRPC's wire details, shared by the HTTP/2 gRPC server and gRPC-Web: length-prefixed message
 * framing (1 flag byte, 4 bytes big-endian length), `grpc-timeout`, the percent-encoding of
 * `grpc-message`, and the mapping between HTTP headers and protocol metadata. Pure.
 *
 * Metadata, as the reference proxy builds it: every request header except HTTP/2 pseudo-headers,
 * connection-level headers (`te`, `connection`, `host`, `content-length`, …), `content-type` and
 * gRPC's own transport headers (`grpc-*`). `-bin` headers are base64-decoded into `bytes_value`.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { MetadataEntry } from '../../protocol/index.js';
import { Status, type StatusCode } from '../dispatch.js';

/** The flag byte of a compressed message. */
export const FLAG_COMPRESSED = 0x01;
/** The flag byte of a gRPC-Web trailers frame. */
export const FLAG_TRAILERS = 0x80;

/** A frame stream that breaks the protocol; `status` is what the call ends with. */
export class GrpcFrameError extends Error {
  constructor(
    readonly status: StatusCode,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcFrameError';
  }
}

/** One message in a frame. */
export function encodeFrame(payload: Uint8Array, flags = 0): Buffer {
  const frame = Buffer.allocUnsafe(5 + payload.length);
  frame[0] = flags;
  frame.writeUInt32BE(payload.length, 1);
  frame.set(payload, 5);
  return frame;
}

/**
 * Reassembles messages from chunks of a frame stream. `push` returns the messages completed by
 * a chunk (most often exactly one) and throws `GrpcFrameError` on a compressed message (the
 * proxy negotiates identity only) or one larger than `maxMessageBytes`. Chunks of an
 * unfinished message are kept as they came and joined once, when the message is complete, so
 * a large message arriving in many small chunks costs linear, not quadratic, copying.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** 5 + the length of the message at the head, once its header has arrived; else 0. */
  private needed = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** True when a frame has started but not finished (the stream ended mid-message). */
  get partial(): boolean {
    return this.buffered > 0;
  }

  push(chunk: Buffer): Buffer[] {
    const messages: Buffer[] = [];
    if (chunk.length === 0) return messages;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.needed === 0) {
        if (this.buffered < 5) break;
        this.needed = 5 + this.header();
      }
      if (this.buffered < this.needed) break;
      const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      messages.push(data.subarray(5, this.needed));
      const rest = data.subarray(this.needed);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.needed = 0;
    }
    return messages;
  }

  /** Checks the 5-byte header at the head and returns the message length. */
  private header(): number {
    let head = this.chunks[0]!;
    if (head.length < 5) {
      head = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [head];
    }
    if ((head[0]! & FLAG_COMPRESSED) !== 0) {
      throw new GrpcFrameError(Status.INTERNAL, 'compressed message received, but the proxy accepts identity encoding only');
    }
    const length = head.readUInt32BE(1);
    if (length > this.maxMessageBytes) {
      throw new GrpcFrameError(Status.RESOURCE_EXHAUSTED, `message of ${length} bytes exceeds the limit of ${this.maxMessageBytes} bytes`);
    }
    return length;
  }
}

const TIMEOUT_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** A `grpc-timeout` header in milliseconds, or undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return undefined;
  return Number(match[1]) * TIMEOUT_UNITS[match[2]!]!;
}

/** `grpc-message` percent-encoding: bytes outside printable ASCII, and `%`, as `%XX` of UTF-8. */
export function encodeGrpcMessage(text: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of `encodeGrpcMessage`; malformed escapes are kept as they are. */
export function decodeGrpcMessage(text: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text[i] === '%' ? text.slice(i + 1, i + 3) : '';
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(text[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Request headers that are transport, not metadata. */
const NOT_METADATA = new Set(['te', 'content-type', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'proxy-connection']);

/** Request headers as protocol metadata (see the module comment). */
export function metadataFromHeaders(headers: IncomingHttpHeaders): MetadataEntry[] {
  const entries: MetadataEntry[] = [];
  for (const key in headers) {
    if (key.charCodeAt(0) === 58 /* : */ || NOT_METADATA.has(key) || key.startsWith('grpc-')) continue;
    const value = headers[key];
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : key.endsWith('-bin') ? value.split(',') : [value];
    for (const one of values) {
      if (key.endsWith('-bin')) entries.push({ key, bytes_value: Buffer.from(one.trim(), 'base64') });
      else entries.push({ key, string_value: one });
    }
  }
  return entries;
}

/** Response headers metadata may not set. */
const RESERVED_RESPONSE = new Set([...NOT_METADATA, 'date', 'server', 'access-control-allow-origin', 'access-control-expose-headers']);
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Adds reply metadata to response headers: string values, and (when `binary`) bytes values of
 * `-bin` keys as base64. Entries with reserved or invalid names or values are skipped, and
 * their keys returned, so that the caller can log them.
 */
export function addMetadataHeaders(entries: readonly MetadataEntry[] | undefined, headers: OutgoingHttpHeaders, binary: boolean): string[] {
  const skipped: string[] = [];
  if (entries === undefined) return skipped;
  for (const entry of entries) {
    const key = (entry.key ?? '').toLowerCase();
    let value: string | undefined;
    if (entry.string_value !== undefined && entry.string_value !== null && !key.endsWith('-bin')) value = entry.string_value;
    else if (binary && entry.bytes_value && key.endsWith('-bin')) value = Buffer.from(entry.bytes_value).toString('base64');
    if (value === undefined || !HEADER_NAME.test(key) || key.startsWith('grpc-') || RESERVED_RESPONSE.has(key) || !HEADER_VALUE.test(value)) {
      skipped.push(key);
      continue;
    }
    const existing = headers[key];
    if (existing === undefined) headers[key] = value;
    else headers[key] = Array.isArray(existing) ? [...existing, value] : [String(existing), value];
  }
  return skipped;
}

/** The gRPC-Web trailers frame: `grpc-status` and `grpc-message` as an HTTP/1 header block. */
export function trailersFrame(status: number, message: string | undefined): Buffer {
  let block = `grpc-status:${status}\r\n`;
  if (message) block += `grpc-message:${encodeGrpcMessage(message)}\r\n`;
  return encodeFrame(Buffer.from(block, 'latin1'), FLAG_TRAILERS);
}

/** The name of a status code (`UNKNOWN`, `NOT_FOUND`), for metrics and logs. */
export function statusName(code: number): string {
  for (const [name, value] of Object.entries(Status)) if (value === code) return name;
  return String(code);
}
