/**
 * gRPC's message framing, status text and request deadline (`grpc-timeout`), shared by every
 * gRPC speaker in the package: the proxy's ingress and its channel to the user function
 * (src/proxy), and the user-function library's server (src/function). Pure: bytes in, bytes out.
 *
 * A gRPC message travels as a length-prefixed frame (1 flag byte, 4 bytes big-endian length,
 * the message); `grpc-message` is percent-encoded UTF-8. Messages are sent uncompressed (always
 * allowed); received ones may be compressed with the call's `grpc-encoding`, `gzip` or
 * `deflate` (zlib, as gRPC's deflate is), and are inflated here.
 */
import { gunzipSync, inflateSync } from 'node:zlib';

/**
 * The gRPC status codes this layer and the function library's server end calls with (the
 * numbers are gRPC's; the proxy keeps its own table in src/proxy/dispatch.ts).
 */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const;

/** The flag byte of a compressed message. */
const FLAG_COMPRESSED = 0x01;

/** The message encodings received messages may use (`grpc-encoding`). */
export type GrpcEncoding = 'identity' | 'gzip' | 'deflate';

/** What a server answers in `grpc-accept-encoding`: the encodings it can inflate. */
export const GRPC_ACCEPT_ENCODING = 'identity,deflate,gzip';

/** A request's `grpc-encoding` header as an encoding; absent is identity, unknown is undefined. */
export function grpcEncoding(header: string | string[] | undefined): GrpcEncoding | undefined {
  if (header === undefined) return 'identity';
  const value = (Array.isArray(header) ? header.join(',') : header).trim().toLowerCase();
  return value === 'identity' || value === 'gzip' || value === 'deflate' ? value : undefined;
}

const TIMEOUT_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** The longest delay a Node timer takes (a longer one fires after 1 ms): about 24.8 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A `grpc-timeout` header in milliseconds, or undefined when absent or malformed (the gRPC spec:
 * at most 8 digits, then one unit of H, M, S, m, u, n). A server ignores a malformed one. A
 * deadline further away than a Node timer can wait (`99999999H` is legal) is undefined too: no
 * deadline, rather than a timer that fires at once.
 */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return undefined;
  const ms = Number(match[1]) * TIMEOUT_UNITS[match[2]!]!;
  return ms <= MAX_TIMER_MS ? ms : undefined;
}

/** A frame stream that breaks the protocol; `status` is what the call ends with. */
export class GrpcFrameError extends Error {
  constructor(
    readonly status: typeof GrpcStatus.INTERNAL | typeof GrpcStatus.RESOURCE_EXHAUSTED,
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
 * a chunk (most often exactly one), compressed ones inflated with `encoding`, and throws
 * `GrpcFrameError`: INTERNAL on a compressed message when the encoding is identity (the gRPC
 * spec's rule) or one that does not inflate, RESOURCE_EXHAUSTED on one larger than
 * `maxMessageBytes` on the wire or inflated. Chunks of
 * an unfinished message are kept as they came and joined once, when the message is complete, so
 * a large message arriving in many small chunks costs linear, not quadratic, copying. Messages
 * may be views of the pushed chunks.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** 5 + the length of the message at the head, once its header has arrived; else 0. */
  private needed = 0;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly encoding: GrpcEncoding = 'identity',
  ) {}

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
      const message = data.subarray(5, this.needed);
      messages.push((data[0]! & FLAG_COMPRESSED) === 0 ? message : this.inflate(message));
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
    if ((head[0]! & FLAG_COMPRESSED) !== 0 && this.encoding === 'identity') {
      throw new GrpcFrameError(GrpcStatus.INTERNAL, 'compressed message received, but the call declared no grpc-encoding (identity)');
    }
    const length = head.readUInt32BE(1);
    if (length > this.maxMessageBytes) {
      throw new GrpcFrameError(GrpcStatus.RESOURCE_EXHAUSTED, `message of ${length} bytes exceeds the limit of ${this.maxMessageBytes} bytes`);
    }
    return length;
  }

  private inflate(message: Buffer): Buffer {
    try {
      const options = { maxOutputLength: Math.max(1, this.maxMessageBytes) };
      return this.encoding === 'gzip' ? gunzipSync(message, options) : inflateSync(message, options);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new GrpcFrameError(GrpcStatus.RESOURCE_EXHAUSTED, `${this.encoding}-compressed message inflates to more than the limit of ${this.maxMessageBytes} bytes`);
      }
      throw new GrpcFrameError(GrpcStatus.INTERNAL, `could not inflate a ${this.encoding}-compressed message: ${(error as Error).message}`);
    }
  }
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
