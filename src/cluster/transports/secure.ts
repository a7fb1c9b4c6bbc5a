/**
 * A transport wrapper that encrypts and authenticates ALL cluster traffic with a shared
 * keyring (../keyring.ts): every packet, every exchange request and answer, every stream frame
 * is sealed on the way out and opened on the way in. Anything that fails to open is never
 * handed up: a packet is dropped, an exchange request is answered with a failure (the
 * connection closes), a failing exchange answer rejects the caller, a stream frame that fails
 * closes its stream. Each of these is counted in `stats.rejected`; none throws. It owns only
 * sealing; addressing, framing and timing stay with the inner transport.
 */
import { CloudstateError } from '../../core/index.js';
import type { Keyring } from '../keyring.js';
import type { ExchangeHandler, PacketHandler, Stream, StreamHandler, Transport } from '../transport.js';

export interface SecureTransportStats {
  /** Packets, exchange messages and stream frames that did not authenticate. */
  rejected: number;
}

export type SecureTransport = Transport & { readonly stats: SecureTransportStats };

const unauthentic = (what: string) => new CloudstateError('ERR_CLUSTER_UNAUTHENTIC', `${what} did not authenticate with any installed key`);

/** One stream with every frame sealed; a frame that does not open closes it. */
class SecureStream implements Stream {
  constructor(
    private readonly inner: Stream,
    private readonly keyring: Keyring,
    private readonly stats: SecureTransportStats,
  ) {}

  get remote(): string {
    return this.inner.remote;
  }

  write(frame: Uint8Array): boolean {
    return this.inner.write(this.keyring.seal(frame));
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    let failed = false;
    this.inner.onFrame((sealed) => {
      if (failed) return;
      const plain = this.keyring.open(sealed);
      if (plain) return handler(plain);
      failed = true;
      this.stats.rejected++;
      this.inner.close();
    });
  }

  onDrain(handler: () => void): void {
    this.inner.onDrain(handler);
  }

  onClose(handler: (err?: Error) => void): void {
    this.inner.onClose(handler);
  }

  close(): void {
    this.inner.close();
  }
}

/** Wraps `inner` so that all its traffic is sealed with `keyring` (shared, so rotation applies at once). */
export function secureTransport(inner: Transport, keyring: Keyring): SecureTransport {
  const stats: SecureTransportStats = { rejected: 0 };
  const secure = (s: Stream) => new SecureStream(s, keyring, stats);
  return {
    stats,
    get address() {
      return inner.address;
    },
    sendPacket(to, data) {
      inner.sendPacket(to, keyring.seal(data));
    },
    async exchange(to, data, timeoutMs) {
      const answer = keyring.open(await inner.exchange(to, keyring.seal(data), timeoutMs));
      if (answer) return answer;
      stats.rejected++;
      throw unauthentic(`the answer from ${to}`);
    },
    async openStream(to, timeoutMs) {
      return secure(await inner.openStream(to, timeoutMs));
    },
    listen(onPacket: PacketHandler, onExchange: ExchangeHandler, onStream?: StreamHandler) {
      inner.listen(
        (from, data) => {
          const plain = keyring.open(data);
          if (plain) onPacket(from, plain);
          else stats.rejected++;
        },
        async (from, data) => {
          const plain = keyring.open(data);
          if (!plain) {
            stats.rejected++;
            throw unauthentic(`an exchange from ${from}`);
          }
          return keyring.seal(await onExchange(from, plain));
        },
        onStream && ((stream) => onStream(secure(stream))),
      );
    },
    close: () => inner.close(),
  };
}
