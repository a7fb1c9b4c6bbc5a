/**
 * The real transport: UDP datagrams for packets (probes and gossip) and TCP for reliable
 * exchanges (push-pull, join) and long-lived streams (messaging), all on the same port. The
 * first byte a client sends on a TCP connection says what it is: `PREAMBLE_EXCHANGE` (one
 * length-prefixed request frame, one response frame, then close) or `PREAMBLE_STREAM` (frames
 * both ways until either side closes); anything else is cut off. Frames over `maxFrameBytes`
 * (or a garbage length) close that connection, exchanges that stall past their timeout are
 * cut off, streams have no idle timeout. Datagrams are handed up as they are (the membership
 * layer validates them). Binds 127.0.0.1 unless told otherwise. It never throws on what a
 * peer sends.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { CloudstateError, describeError } from '../../core/index.js';
import type { ExchangeHandler, PacketHandler, Stream, StreamHandler, Transport } from '../transport.js';
import { FrameReader, frameHeader } from './frame-reader.js';
import { StreamBase } from './stream-base.js';

export interface UdpTcpOptions {
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port for both UDP and TCP; 0 picks a free one (the same for both). */
  port?: number;
  /** The largest exchange or stream frame accepted (default 16 MiB). */
  maxFrameBytes?: number;
  /** How long an accepted exchange connection may stay idle, in ms (default 10 000). */
  exchangeIdleMs?: number;
}

/** First byte of a TCP connection that carries one exchange. */
export const PREAMBLE_EXCHANGE = 0xe1;
/** First byte of a TCP connection that carries a stream. */
export const PREAMBLE_STREAM = 0x5e;

const PREAMBLE_EXCHANGE_BYTE = Buffer.from([PREAMBLE_EXCHANGE]);
const PREAMBLE_STREAM_BYTE = Buffer.from([PREAMBLE_STREAM]);
/** Frames up to this size are joined with their header into one write; bigger ones are written in two. */
const COPY_LIMIT = 64 * 1024;

/** Reads one length-prefixed frame from a socket, starting with `initial` bytes already read. */
function readFrame(socket: Socket, maxBytes: number, initial?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const reader = new FrameReader(maxBytes);
    let done = false;
    const onData = (chunk: Buffer) => {
      try {
        reader.push(chunk, (frame) => {
          if (done) return;
          done = true;
          cleanup();
          resolve(frame);
        });
      } catch (err) {
        fail(err as Error);
      }
    };
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onEnd = () => fail(new CloudstateError('ERR_CLUSTER_CONNECTION_CLOSED', 'connection closed before a whole frame arrived'));
    const onError = (err: Error) => fail(err);
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    if (initial && initial.length > 0) onData(initial);
  });
}

/**
 * A stream over one TCP connection: length-prefixed frames, Nagle off, the socket's own
 * back-pressure signal. `pause()`/`resume()` stop and restart reading (tests use them to play
 * a receiver that stops reading).
 */
export class TcpStream extends StreamBase {
  private readonly reader: FrameReader;

  constructor(
    readonly remote: string,
    private readonly socket: Socket,
    maxFrameBytes: number,
    initial?: Buffer,
  ) {
    super();
    this.reader = new FrameReader(maxFrameBytes);
    socket.setNoDelay(true);
    socket.setTimeout(0);
    let error: Error | undefined;
    socket.on('error', (err) => (error = err));
    socket.on('close', () => this.finish(error));
    socket.on('drain', () => this.emitDrain());
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    if (initial && initial.length > 0) this.receive(initial);
  }

  write(frame: Uint8Array): boolean {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return false;
    if (frame.byteLength <= COPY_LIMIT) {
      const out = Buffer.allocUnsafe(4 + frame.byteLength);
      out.writeUInt32BE(frame.byteLength, 0);
      out.set(frame, 4);
      return this.socket.write(out);
    }
    this.socket.cork();
    this.socket.write(frameHeader(frame.byteLength));
    const ok = this.socket.write(frame);
    this.socket.uncork();
    return ok;
  }

  /** Closes gracefully: frames already written are sent first; a peer that does not close its end is cut off after 2 s. */
  close(): void {
    if (this.closed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.finish();
  }

  /** Cuts the connection at once (transport shutdown, a broken peer). */
  destroy(err?: Error): void {
    this.socket.destroy();
    this.finish(err);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.reader.push(chunk, (frame) => this.emitFrame(frame));
    } catch (err) {
      this.destroy(err as Error); // an oversized or garbage length: nothing after it can be trusted
    }
  }
}

export class UdpTcpTransport implements Transport {
  private onPacket: PacketHandler | undefined;
  private onExchange: ExchangeHandler | undefined;
  private onStream: StreamHandler | undefined;
  private readonly maxFrameBytes: number;
  private readonly exchangeIdleMs: number;
  private readonly streams = new Set<TcpStream>();
  /** Accepted connections, so `close()` need not wait for idle ones to time out. */
  private readonly accepted = new Set<Socket>();
  private closing = false;

  private constructor(
    private readonly udp: UdpSocket,
    private readonly tcp: Server,
    readonly address: string,
    options: UdpTcpOptions,
  ) {
    this.maxFrameBytes = options.maxFrameBytes ?? 16 * 1024 * 1024;
    this.exchangeIdleMs = options.exchangeIdleMs ?? 10_000;
    udp.on('message', (msg, rinfo) => this.onPacket?.(`${rinfo.address}:${rinfo.port}`, msg));
    udp.on('error', () => undefined); // e.g. ICMP port unreachable: a lost packet, nothing more
    tcp.on('connection', (socket) => this.serve(socket));
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
        return new UdpTcpTransport(udp, tcp, `${host}:${port}`, options);
      } catch (err) {
        tcp.close();
        udp.close();
        if ((options.port ?? 0) !== 0 || attempt >= 5) throw new CloudstateError('ERR_CLUSTER_BIND', `cannot bind ${host}:${port}: ${describeError(err)}`, { cause: err });
      }
    }
  }

  listen(onPacket: PacketHandler, onExchange: ExchangeHandler, onStream?: StreamHandler): void {
    this.onPacket = onPacket;
    this.onExchange = onExchange;
    this.onStream = onStream;
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
        socket.write(Buffer.concat([PREAMBLE_EXCHANGE_BYTE, frameHeader(data.byteLength), data]));
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

  openStream(to: string, timeoutMs: number): Promise<Stream> {
    if (this.closing) return Promise.reject(new CloudstateError('ERR_CLUSTER_TRANSPORT_CLOSED', 'the transport is closed'));
    const [host, port] = splitAddress(to);
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host, port });
      const timer = setTimeout(() => socket.destroy(new CloudstateError('ERR_CLUSTER_TIMEOUT', `stream to ${to} not open after ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(err instanceof CloudstateError ? err : new CloudstateError('ERR_CLUSTER_UNREACHABLE', `stream to ${to} failed: ${describeError(err)}`, { cause: err }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        if (this.closing) {
          socket.destroy();
          return reject(new CloudstateError('ERR_CLUSTER_TRANSPORT_CLOSED', 'the transport is closed'));
        }
        socket.write(PREAMBLE_STREAM_BYTE);
        resolve(this.track(new TcpStream(to, socket, this.maxFrameBytes)));
      });
    });
  }

  private track(stream: TcpStream): TcpStream {
    this.streams.add(stream);
    stream.afterClose(() => this.streams.delete(stream));
    return stream;
  }

  private serve(socket: Socket): void {
    this.accepted.add(socket);
    socket.once('close', () => this.accepted.delete(socket));
    socket.setTimeout(this.exchangeIdleMs, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.once('data', (first: Buffer) => {
      const rest = first.subarray(1);
      if (first[0] === PREAMBLE_EXCHANGE) void this.answer(socket, rest);
      else if (first[0] === PREAMBLE_STREAM && this.onStream && !this.closing) {
        this.onStream(this.track(new TcpStream(`${socket.remoteAddress}:${socket.remotePort}`, socket, this.maxFrameBytes, rest)));
      } else socket.destroy(); // not ours, or no one takes streams here
    });
  }

  private async answer(socket: Socket, initial: Buffer): Promise<void> {
    try {
      const request = await readFrame(socket, this.maxFrameBytes, initial);
      if (!this.onExchange) return void socket.destroy();
      const answer = await this.onExchange(`${socket.remoteAddress}:${socket.remotePort}`, request);
      socket.end(Buffer.concat([frameHeader(answer.byteLength), answer]));
    } catch {
      socket.destroy(); // the caller sees the connection close and fails its exchange
    }
  }

  /** Stops listening and cuts every stream (both ends then see them close). Closing twice does nothing. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const s of [...this.streams]) s.destroy(new CloudstateError('ERR_CLUSTER_TRANSPORT_CLOSED', 'the transport is closed'));
    for (const socket of [...this.accepted]) socket.destroy();
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
