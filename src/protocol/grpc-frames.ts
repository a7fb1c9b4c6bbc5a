/**
 * gRPC's message framing and status text, shared by every gRPC speaker in the package: the
 * proxy's ingress and its channel to the user function (src/proxy), and the user-function
 * library's server (src/function). Pure: bytes in, bytes out.
 *
 * A gRPC message travels as a length-prefixed frame (1 flag byte, 4 bytes big-endian length,
 * the message); `grpc-message` is percent-encoded UTF-8. Only identity encoding is spoken here:
 * a compressed frame is a protocol error.
 */

/**
 * The gRPC status codes this layer and the function library's server end calls with (the
 * numbers are gRPC's; the proxy keeps its own table in src/proxy/dispatch.ts).
 */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const;

/** The flag byte of a compressed message. */
const FLAG_COMPRESSED = 0x01;

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
 * a chunk (most often exactly one) and throws `GrpcFrameError` on a compressed message (INTERNAL:
 * identity encoding only) or one larger than `maxMessageBytes` (RESOURCE_EXHAUSTED). Chunks of
 * an unfinished message are kept as they came and joined once, when the message is complete, so
 * a large message arriving in many small chunks costs linear, not quadratic, copying. Messages
 * may be views of the pushed chunks.
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
      throw new GrpcFrameError(GrpcStatus.INTERNAL, 'compressed message received, but only identity encoding is accepted');
    }
    const length = head.readUInt32BE(1);
    if (length > this.maxMessageBytes) {
      throw new GrpcFrameError(GrpcStatus.RESOURCE_EXHAUSTED, `message of ${length} bytes exceeds the limit of ${this.maxMessageBytes} bytes`);
    }
    return length;
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
