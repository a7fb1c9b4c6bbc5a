/**
 * The transport SPI (after memberlist's transport.go): best-effort packets for probes and
 * gossip, and reliable request/response exchanges for push-pull state sync. Addresses are
 * `host:port` strings. A transport never interprets payloads and never throws on a bad
 * packet from a peer: it hands bytes up, and the membership layer decides.
 */

export type PacketHandler = (from: string, data: Uint8Array) => void;
/** Answers a reliable exchange; a rejection is reported back to the caller as a failure. */
export type ExchangeHandler = (from: string, data: Uint8Array) => Promise<Uint8Array>;

export interface Transport {
  /** This node's address as others reach it. */
  readonly address: string;
  /** Sends one packet, best effort: it may be lost, duplicated or reordered. */
  sendPacket(to: string, data: Uint8Array): void;
  /** Sends `data` reliably and resolves with the peer's answer; rejects on timeout or when the peer is unreachable. */
  exchange(to: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Registers the handlers (one of each); packets and exchanges before this are dropped. */
  listen(onPacket: PacketHandler, onExchange: ExchangeHandler): void;
  close(): Promise<void>;
}
