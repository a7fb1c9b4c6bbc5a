/**
 * A TCP link to a server on 127.0.0.1 whose connections a test can cut, as a crashed or killed
 * process's connections are cut: both sockets of every connection through it are destroyed.
 * The proxy is pointed at the link instead of the user function; new connections may follow a
 * cut (the user function "came back").
 */
import { once } from 'node:events';
import * as net from 'node:net';

export interface TcpLink {
  readonly port: number;
  /** Destroys every connection through the link; new ones may follow. */
  cut(): void;
  /** Cuts every connection and stops accepting new ones. */
  close(): void;
}

export async function startLink(target: number): Promise<TcpLink> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(target, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const cut = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    cut,
    close: () => {
      cut();
      server.close();
    },
  };
}
