/**
 * Splits a byte stream into length-prefixed frames (a 4-byte big-endian length, then that
 * many bytes). Pure: it owns the parsing and the size limit, not the socket. Each byte is
 * copied at most once (only a frame that spans chunks is joined); a frame that arrives
 * whole inside one chunk is handed up as a view of that chunk.
 */
import { CloudstateError } from '../../core/index.js';

/** The 4-byte big-endian length prefix of a frame of `length` bytes. */
export function frameHeader(length: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(length);
  return b;
}

export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes needed before parsing is worth trying again (4 until a header is known). */
  private need = 4;

  /** @param maxFrameBytes the largest frame accepted; a longer declared length is an error. */
  constructor(private readonly maxFrameBytes: number) {}

  /**
   * Appends `chunk` and calls `onFrame` for every frame now complete, in order. Throws
   * `ERR_CLUSTER_FRAME_TOO_LARGE` when a header declares more than the limit (the caller
   * closes the connection: the rest of the stream cannot be trusted).
   */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    if (this.pendingBytes + chunk.length < this.need) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      return;
    }
    let buf = chunk;
    if (this.pending.length > 0) {
      this.pending.push(chunk);
      buf = Buffer.concat(this.pending, this.pendingBytes + chunk.length);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let off = 0;
    this.need = 4;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off);
      if (len > this.maxFrameBytes) throw new CloudstateError('ERR_CLUSTER_FRAME_TOO_LARGE', `frame of ${len} bytes exceeds ${this.maxFrameBytes}`);
      if (buf.length - off < 4 + len) {
        this.need = 4 + len;
        break;
      }
      onFrame(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    if (off < buf.length) {
      this.pending.push(buf.subarray(off));
      this.pendingBytes = buf.length - off;
    }
  }

  /** Bytes received that are not yet part of a whole frame. */
  get buffered(): number {
    return this.pendingBytes;
  }
}
