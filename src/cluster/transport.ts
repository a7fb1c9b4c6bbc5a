/**
 * The transport SPI (after memberlist's transport.go): best-effort packets for probes and
 * gossip, reliable request/response exchanges for push-pull state sync, and long-lived
 * reliable streams for node-to-node messaging. Addresses are `host:port` strings. A transport
 * never interprets payloads and never throws on a bad packet or frame from a peer: it hands
 * bytes up, and the layer above decides.
 */

export type PacketHandler = (from: string, data: Uint8Array) => void;
/** Answers a reliable exchange; a rejection is reported back to the caller as a failure. */
export type ExchangeHandler = (from: string, data: Uint8Array) => Promise<Uint8Array>;
/** Takes a stream a peer opened to this node. */
export type StreamHandler = (stream: Stream) => void;

/**
 * A reliable, ordered, framed, bidirectional connection to one peer (a TCP connection, or
 * its in-memory stand-in). Frames arrive whole, in the order written, each at most once; a
 * stream that breaks closes, and frames written but not yet delivered may be lost with it.
 */
export interface Stream {
  /** The address of the other end as the transport knows it (for an accepted stream, its socket address). */
  readonly remote: string;
  /**
   * Queues one frame. Returns false when the stream's buffer is over its high-water mark:
   * the frame is still queued, but the writer should wait for `onDrain` before writing more.
   * Writing to a closed stream does nothing and returns false.
   */
  write(frame: Uint8Array): boolean;
  /** Registers the frame handler (one); frames arriving before it are held. */
  onFrame(handler: (frame: Uint8Array) => void): void;
  /** Called when a writer that saw `write` return false may write again. */
  onDrain(handler: () => void): void;
  /** Called once when the stream closes, by either side or by failure (`err` then says why). */
  onClose(handler: (err?: Error) => void): void;
  close(): void;
}

export interface Transport {
  /** This node's address as others reach it. */
  readonly address: string;
  /** Sends one packet, best effort: it may be lost, duplicated or reordered. */
  sendPacket(to: string, data: Uint8Array): void;
  /** Sends `data` reliably and resolves with the peer's answer; rejects on timeout or when the peer is unreachable. */
  exchange(to: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Opens a stream to `to`; rejects when the peer is unreachable or does not accept within `timeoutMs`. */
  openStream(to: string, timeoutMs: number): Promise<Stream>;
  /**
   * Registers the handlers (one of each); packets, exchanges and streams before this are
   * dropped (a stream that arrives with no handler is closed).
   */
  listen(onPacket: PacketHandler, onExchange: ExchangeHandler, onStream?: StreamHandler): void;
  close(): Promise<void>;
}
