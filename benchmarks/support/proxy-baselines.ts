/**
 * The proxy benchmark's baseline servers, each run as its own process
 * (`node --import tsx proxy-baselines.ts <kind>`), bound to 127.0.0.1 on a free port; prints
 * `ready <port>` and exits when its stdin closes.
 *
 * - `echo`: a plain node:http JSON echo: reads the body, `JSON.parse`, answers
 *   `JSON.stringify` of it (200, `content-length`, keep-alive). What HTTP/JSON costs with no
 *   proxy at all.
 * - `grpc-h2`: a trivial gRPC server for `ShoppingCart/AddItem` on node:http2 (the server stack
 *   the proxy's ingress uses): decodes the `AddLineItem` with protobufjs and answers an empty
 *   message with `grpc-status: 0`. The "direct" call of the p90 comparison.
 * - `grpc-h2-leveldb`: `grpc-h2` made durable with the raw driver: each call's request is put into
 *   a LevelDB database (the `level` package the plugin uses, a fresh temporary directory) as its own write with
 *   `sync: true`, and answered once that write is done. The "direct" call of the durable
 *   comparison: what one fsync'd write per call costs with no proxy (concurrent calls' writes
 *   are grouped by LevelDB itself).
 * - `grpc-js`: the same service on @grpc/grpc-js's Server (what a Node gRPC service usually runs
 *   on), for reference.
 */
import * as grpc from '@grpc/grpc-js';
import { Level } from 'level';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createH2Server, constants as h2 } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addLineItemType } from './proxy-wire.js';

const kind = process.argv[2];
const AddLineItem = addLineItemType();
const PATH = '/com.example.shoppingcart.ShoppingCart/AddItem';
const EMPTY_FRAME = Buffer.from([0, 0, 0, 0, 0]);

async function echo(): Promise<number> {
  const server = createHttpServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Stores a request before it is answered (the durable baseline), or not at all. */
type Store = (request: Buffer) => Promise<void>;

async function leveldbStore(): Promise<Store> {
  const directory = mkdtempSync(join(tmpdir(), 'bench-baseline-leveldb-'));
  process.on('exit', () => rmSync(directory, { recursive: true, force: true }));
  const db = new Level<string, Buffer>(directory, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  await db.open();
  let n = 0;
  return (request) => {
    const batch = db.batch();
    batch.put(`call-${n++}`, request);
    return batch.write({ sync: true });
  };
}

async function grpcH2(store?: Store): Promise<number> {
  const server = createH2Server();
  server.on('stream', (stream, headers) => {
    if (headers[':path'] !== PATH) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const request = body.subarray(5, 5 + body.readUInt32BE(1));
      AddLineItem.decode(request);
      const answer = () => {
        stream.respond({ [h2.HTTP2_HEADER_STATUS]: 200, [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(EMPTY_FRAME);
      };
      if (store === undefined) answer();
      else {
        store(request).then(answer, (e: Error) => {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '13', 'grpc-message': encodeURIComponent(e.message) }, { endStream: true });
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function grpcJs(): Promise<number> {
  const server = new grpc.Server();
  const definition: grpc.ServiceDefinition = {
    AddItem: {
      path: PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: (m: unknown) => Buffer.from(AddLineItem.encode(m as object).finish()),
      requestDeserialize: (b: Buffer) => AddLineItem.decode(b),
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: () => ({}),
    },
  };
  server.addService(definition, {
    AddItem: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, {}),
  });
  return new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))));
}

const servers: Record<string, () => Promise<number>> = {
  echo,
  'grpc-h2': () => grpcH2(),
  'grpc-h2-leveldb': async () => grpcH2(await leveldbStore()),
  'grpc-js': grpcJs,
};
const start = servers[kind ?? ''];
if (start === undefined) {
  process.stderr.write(`usage: proxy-baselines.ts ${Object.keys(servers).join(' | ')}\n`);
  process.exit(2);
}
const port = await start();
process.stdout.write(`ready ${port}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
