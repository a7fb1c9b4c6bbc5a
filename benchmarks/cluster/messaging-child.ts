// The receiving process of the messaging benchmark (./messaging.ts). `messenger` mode: a
// Messenger over UdpTcpTransport that counts `bench` messages, answers `mark` with `done`
// (carrying the count, then resets it) and echoes `ping` as `pong`. `raw` mode: a plain
// node:net server that reads 4-byte length-prefixed frames, counts them, and answers an
// empty frame (the mark) with the count as 4 bytes. Prints `ready <host:port>` when listening.
import { createServer } from 'node:net';
import { systemClock, systemScheduler } from '../../src/core/index.js';
import { Messenger } from '../../src/cluster/messaging.js';
import { FrameReader } from '../../src/cluster/transports/frame-reader.js';
import { UdpTcpTransport } from '../../src/cluster/transports/udp-tcp.js';

const mode = process.argv[2];
let count = 0;
const countBytes = () => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(count);
  count = 0;
  return b;
};

if (mode === 'messenger') {
  const transport = await UdpTcpTransport.bind();
  const messenger = new Messenger({ transport, selfId: 'bench-receiver', clock: systemClock, scheduler: systemScheduler });
  transport.listen(() => undefined, async () => new Uint8Array(), messenger.onStream);
  messenger.on('bench', () => count++);
  messenger.on('mark', (from) => void messenger.send(from, 'done', countBytes()));
  messenger.on('ping', (from, payload) => void messenger.send(from, 'pong', payload));
  process.stdout.write(`ready ${transport.address}\n`);
} else {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    const reader = new FrameReader(1 << 20);
    socket.on('data', (chunk: Buffer) =>
      reader.push(chunk, (frame) => {
        if (frame.length > 0) count++;
        else socket.write(countBytes());
      }),
    );
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`ready 127.0.0.1:${(server.address() as { port: number }).port}\n`));
}
setInterval(() => undefined, 1 << 30);
