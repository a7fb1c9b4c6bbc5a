// A Messenger in its own process, for the messaging integration test: binds a UdpTcpTransport
// (sealed with the base64 key given as the first argument, if any), prints `ready <address> <id>`,
// counts messages on topic `seq` (4-byte big-endian sequence numbers) and answers `report` with
// a JSON line on stdout: { count, inOrder, last }.
import { systemClock, systemScheduler } from '../../src/core/index.js';
import { Keyring } from '../../src/cluster/keyring.js';
import { Messenger } from '../../src/cluster/messaging.js';
import { secureTransport } from '../../src/cluster/transports/secure.js';
import { UdpTcpTransport } from '../../src/cluster/transports/udp-tcp.js';

const key = process.argv[2];
const bound = await UdpTcpTransport.bind();
const transport = key ? secureTransport(bound, new Keyring([key])) : bound;
const id = `receiver-${process.pid}`;
const messenger = new Messenger({ transport, selfId: id, clock: systemClock, scheduler: systemScheduler });
transport.listen(() => undefined, async () => new Uint8Array(), messenger.onStream);
let count = 0;
let last = -1;
let inOrder = true;
messenger.on('seq', (_, p) => {
  const n = Buffer.from(p.buffer, p.byteOffset, p.byteLength).readUInt32BE(0);
  if (n !== last + 1) inOrder = false;
  last = n;
  count++;
});
messenger.on('report', () => process.stdout.write(`${JSON.stringify({ count, inOrder, last })}\n`));
process.stdout.write(`ready ${transport.address} ${id}\n`);
setInterval(() => undefined, 1 << 30);
