/**
 * The real transport: UDP datagrams for packets (probes and gossip) and TCP for reliable
 * exchanges (push-pull, join), both on the same port. An exchange is one connection carrying
 * one length-prefixed request frame and one response frame. Frames over `maxFrameBytes`, and
 * sockets that stall past the timeout, are cut off; datagrams are handed up as they are (the
 * membership layer validates them). Binds 127.0.0.1 unless told otherwise.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { CloudstateError, describeError } from '../../core/index.js';
import type { ExchangeHandler, PacketHandler, Transport } from '../transport.js';

export interface UdpTcpOptions {
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port for both UDP and TCP; 0 picks a free one (the same for both). */
  port?: number;
  /** The largest exchange frame accepted (default 16 MiB). */
  maxFrameBytes?: number;
}

const header = (n: number) => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
};

/** Reads one length-prefixed frame from a socket. */
function readFrame(socket: Socket, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 4) return;
      const len = buf.readUInt32BE(0);
      if (len > maxBytes) return fail(new CloudstateError('ERR_CLUSTER_FRAME_TOO_LARGE', `frame of ${len} bytes exceeds ${maxBytes}`));
      if (buf.length >= 4 + len) {
        cleanup();
        resolve(buf.subarray(4, 4 + len));
      }
    };
    const fail = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onEnd = () => fail(new CloudstateError('ERR_CLUSTER_CONNECTION_CLOSED', 'connection closed before a whole frame arrived'));
    const onError = (err: Error) => fail(err);
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
  });
}

export class UdpTcpTransport implements Transport {
  private onPacket: PacketHandler | undefined;
  private onExchange: ExchangeHandler | undefined;
  private readonly maxFrameBytes: number;

  private constructor(
    private readonly udp: UdpSocket,
    private readonly tcp: Server,
    readonly address: string,
    maxFrameBytes: number,
  ) {
    this.maxFrameBytes = maxFrameBytes;
    udp.on('message', (msg, rinfo) => this.onPacket?.(`${rinfo.address}:${rinfo.port}`, msg));
    udp.on('error', () => undefined); // e.g. ICMP port unreachable: a lost packet, nothing more
    tcp.on('connection', (socket) => void this.serve(socket));
  }

  /** Binds UDP and TCP on the same port (retrying a few times when port 0 picks one taken for UDP). */
  static async bind(options: UdpTcpOptions = {}): Promise<UdpTcpTransport> {
    const host = options.host ?? '127.0.0.1';
    for (let attempt = 0; ; attempt++) {
      const tcp = createServer();
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(options.port ?? 0, host, () => resolve());
      });
      const port = (tcp.address() as { port: number }).port;
      const udp = createSocket('udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(port, host, () => resolve());
        });
        return new UdpTcpTransport(udp, tcp, `${host}:${port}`, options.maxFrameBytes ?? 16 * 1024 * 1024);
      } catch (err) {
        tcp.close();
        udp.close();
        if ((options.port ?? 0) !== 0 || attempt >= 5) throw new CloudstateError('ERR_CLUSTER_BIND', `cannot bind ${host}:${port}: ${describeError(err)}`, { cause: err });
      }
    }
  }

  listen(onPacket: PacketHandler, onExchange: ExchangeHandler): void {
    this.onPacket = onPacket;
    this.onExchange = onExchange;
  }

  sendPacket(to: string, data: Uint8Array): void {
    const [host, port] = splitAddress(to);
    this.udp.send(data, port, host, () => undefined);
  }

  exchange(to: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const [host, port] = splitAddress(to);
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host, port });
      socket.setTimeout(timeoutMs, () => socket.destroy(new CloudstateError('ERR_CLUSTER_TIMEOUT', `exchange with ${to} timed out after ${timeoutMs} ms`)));
      socket.once('error', (err) => reject(new CloudstateError('ERR_CLUSTER_UNREACHABLE', `exchange with ${to} failed: ${describeError(err)}`, { cause: err })));
      socket.once('connect', () => {
        socket.write(Buffer.concat([header(data.byteLength), data]));
        readFrame(socket, this.maxFrameBytes).then(
          (answer) => {
            socket.end();
            resolve(answer);
          },
          (err: unknown) => reject(err),
        );
      });
    });
  }

  private async serve(socket: Socket): Promise<void> {
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => undefined);
    try {
      const request = await readFrame(socket, this.maxFrameBytes);
      if (!this.onExchange) return void socket.destroy();
      const answer = await this.onExchange(`${socket.remoteAddress}:${socket.remotePort}`, request);
      socket.end(Buffer.concat([header(answer.byteLength), answer]));
    } catch {
      socket.destroy(); // the caller sees the connection close and fails its exchange
    }
  }

  async close(): Promise<void> {
    await Promise.all([new Promise<void>((r) => this.udp.close(() => r())), new Promise<void>((r) => this.tcp.close(() => r()))]);
  }
}

/** Splits `host:port` (the last colon, so IPv6 literals in brackets also work). */
export function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new CloudstateError('ERR_CLUSTER_ADDRESS', `not a host:port address: ${JSON.stringify(address)}`);
  return [address.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port];
}
