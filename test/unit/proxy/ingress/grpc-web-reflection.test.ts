import { once } from 'node:events';
import http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { loadProtoFiles, protocolType } from '../../../../src/protocol/index.js';
import { method, SERVICE, startFixture, type Fixture } from './fixtures/harness.js';

const frame = (payload: Uint8Array, flags = 0) => {
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
};

/** Splits a gRPC-Web response body into its messages and its trailers. */
function parseWebBody(body: Buffer): { messages: Buffer[]; trailers: Record<string, string> } {
  const messages: Buffer[] = [];
  const trailers: Record<string, string> = {};
  let rest = body;
  while (rest.length >= 5) {
    const length = rest.readUInt32BE(1);
    const data = rest.subarray(5, 5 + length);
    if (rest[0] === 0x80) {
      for (const line of data.toString('latin1').split('\r\n').filter(Boolean)) {
        const colon = line.indexOf(':');
        trailers[line.slice(0, colon).trim()] = decodeURIComponent(line.slice(colon + 1).trim());
      }
    } else messages.push(data);
    rest = rest.subarray(5 + length);
  }
  return { messages, trailers };
}

/**
 * Decodes grpc-web-text as browser clients do, 4 characters at a time, so that each written
 * chunk may carry its own padding.
 */
function decodeQuanta(text: string): Buffer {
  t.equal(text.length % 4, 0, 'whole base64 quanta');
  const parts: Buffer[] = [];
  for (let i = 0; i < text.length; i += 4) parts.push(Buffer.from(text.slice(i, i + 4), 'base64'));
  return Buffer.concat(parts);
}

async function webCall(f: Fixture, path: string, messages: Uint8Array[], text = false) {
  const body = Buffer.concat(messages.map((m) => frame(m)));
  const response = await fetch(`${f.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': text ? 'application/grpc-web-text' : 'application/grpc-web+proto', 'x-grpc-web': '1', origin: 'http://page.example' },
    body: text ? body.toString('base64') : body,
  });
  const raw = Buffer.from(await response.arrayBuffer());
  return { response, ...parseWebBody(text ? decodeQuanta(raw.toString('latin1')) : raw), raw };
}

t.test('gRPC-Web over HTTP/1.1: binary and text, unary and server streaming, trailers frame, CORS', async (t) => {
  const f = await startFixture(t);
  const echo = method('Echo');
  const payload = echo.inputType.encode({ name: 'web' }).finish();
  const unary = await webCall(f, echo.path, [payload]);
  t.equal(unary.response.status, 200);
  t.equal(unary.response.headers.get('content-type'), 'application/grpc-web+proto');
  t.equal(unary.response.headers.get('x-reply'), 'yes');
  t.equal(unary.response.headers.get('access-control-allow-origin'), 'http://page.example');
  t.match(unary.response.headers.get('access-control-expose-headers'), /grpc-status, grpc-message.*x-reply/);
  t.same(unary.messages, [Buffer.from(payload)]);
  t.same(unary.trailers, { 'grpc-status': '0' });

  const text = await webCall(f, echo.path, [payload], true);
  t.equal(text.response.headers.get('content-type'), 'application/grpc-web-text+proto');
  t.match(text.raw.toString('latin1'), /^[A-Za-z0-9+/=]+$/, 'the body is base64');
  t.same(text.messages, [Buffer.from(payload)]);
  t.same(text.trailers, { 'grpc-status': '0' });

  const watch = method('Watch');
  const streamed = await webCall(f, watch.path, [watch.inputType.encode({ userId: 'u1' }).finish()], true);
  t.same(
    streamed.messages.map((m) => String((watch.outputType.decode(m) as unknown as { total: unknown }).total)),
    ['1', '2', '3'],
  );
  t.equal(streamed.trailers['grpc-status'], '0');

  const collect = method('Collect');
  const pieces = [1, 41].map((quantity) => frame(collect.inputType.encode({ quantity }).finish()).toString('base64')).join('');
  const summed = await fetch(`${f.url}${collect.path}`, { method: 'POST', headers: { 'content-type': 'application/grpc-web-text' }, body: pieces });
  const summedBody = parseWebBody(decodeQuanta(await summed.text()));
  t.equal(String((collect.outputType.decode(summedBody.messages[0]!) as unknown as { total: unknown }).total), '42', 'a text body of separately padded pieces');

  const failed = await webCall(f, method('GetCart').path, [method('GetCart').inputType.encode({ userId: 'boom' }).finish()]);
  t.equal(failed.response.status, 200);
  t.equal(failed.response.headers.get('grpc-status'), '2', 'trailers-only: the status is in the headers too');
  t.same(failed.trailers, { 'grpc-status': '2', 'grpc-message': 'boom' });

  const unknown = await webCall(f, `/${SERVICE}/Nope`, [payload]);
  t.equal(unknown.trailers['grpc-status'], '12');
  const twoToUnary = await webCall(f, echo.path, [payload, payload]);
  t.equal(twoToUnary.trailers['grpc-status'], '13');
  const gzipped = await fetch(`${f.url}${echo.path}`, { method: 'POST', headers: { 'content-type': 'application/grpc-web+proto', 'grpc-encoding': 'gzip' }, body: frame(gzipSync(payload), 1) });
  t.same(parseWebBody(Buffer.from(await gzipped.arrayBuffer())), { messages: [Buffer.from(payload)], trailers: { 'grpc-status': '0' } }, 'a gzip-compressed request is inflated');
  t.equal(gzipped.headers.get('grpc-accept-encoding'), 'identity,deflate,gzip', 'and the encodings taken are announced');
  const snappy = await fetch(`${f.url}${echo.path}`, { method: 'POST', headers: { 'content-type': 'application/grpc-web+proto', 'grpc-encoding': 'snappy' }, body: frame(payload, 1) });
  t.equal(snappy.headers.get('grpc-status'), '12', 'an encoding the proxy lacks is UNIMPLEMENTED');
  const get = await fetch(`${f.url}${echo.path}`, { headers: { 'content-type': 'application/grpc-web' } });
  t.equal(get.headers.get('grpc-status'), '12', 'gRPC-Web must be POST');

  // gRPC-Web over HTTP/2 (a proxy in front may speak h2 to us).
  const session = http2.connect(f.url);
  t.teardown(() => session.close());
  const h2 = session.request({ ':method': 'POST', ':path': echo.path, 'content-type': 'application/grpc-web+proto' });
  h2.end(frame(payload));
  const [h2Headers] = (await once(h2, 'response')) as [http2.IncomingHttpHeaders];
  const h2Chunks: Buffer[] = [];
  h2.on('data', (c: Buffer) => h2Chunks.push(c));
  await once(h2, 'end');
  t.equal(h2Headers['content-type'], 'application/grpc-web+proto');
  t.same(parseWebBody(Buffer.concat(h2Chunks)), { messages: [Buffer.from(payload)], trailers: { 'grpc-status': '0' } });

  const grpcOverHttp1 = await fetch(`${f.url}${echo.path}`, { method: 'POST', headers: { 'content-type': 'application/grpc' }, body: frame(payload) });
  t.equal(grpcOverHttp1.status, 415, 'plain gRPC over HTTP/1.1 is refused with a reason');
  t.match(await grpcOverHttp1.text(), /HTTP\/2/);
});

const reflectionRoot = loadProtoFiles(['grpc/reflection/v1alpha/reflection.proto', 'grpc/reflection/v1/reflection.proto']);
const fileType = protocolType('google.protobuf.FileDescriptorProto');
type Obj = Record<string, any>;

/** A reflection stream: send one request, read one response. */
function reflection(client: grpc.Client, version: 'v1alpha' | 'v1') {
  const requestType = reflectionRoot.lookupType(`grpc.reflection.${version}.ServerReflectionRequest`);
  const responseType = reflectionRoot.lookupType(`grpc.reflection.${version}.ServerReflectionResponse`);
  const call = client.makeBidiStreamRequest(
    `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`,
    (value: Obj) => Buffer.from(requestType.encode(requestType.fromObject(value)).finish()),
    (bytes: Buffer) => responseType.toObject(responseType.decode(bytes), { oneofs: true }) as Obj,
  );
  return {
    async ask(request: Obj): Promise<Obj> {
      const answer = once(call, 'data');
      call.write(request);
      return ((await answer) as [Obj])[0];
    },
    end: () => call.end(),
  };
}

const fileNames = (response: Obj) => ((response.file_descriptor_response?.file_descriptor_proto ?? []) as Uint8Array[]).map((b) => (fileType.decode(b) as unknown as { name: string }).name);

t.test('server reflection v1alpha and v1: list services, files by symbol, name and extension', async (t) => {
  const f = await startFixture(t);
  const client = new grpc.Client(f.address, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const v1alpha = reflection(client, 'v1alpha');
  const expected = { service: [{ name: 'grpc.reflection.v1alpha.ServerReflection' }, { name: SERVICE }] };
  const listed = await v1alpha.ask({ host: 'h', list_services: '' });
  t.same(listed.list_services_response, expected, 'the reflection service, then the entity services sorted (TCK)');
  t.equal(listed.valid_host, 'h');
  t.equal(listed.original_request.list_services, '');
  t.same((await v1alpha.ask({ list_services: 'nonsense.blabla.' })).list_services_response, expected);
  const unknownSymbol = await v1alpha.ask({ file_containing_symbol: 'nonsense.blabla.Void' });
  t.equal(unknownSymbol.message_response, 'file_descriptor_response');
  t.same(fileNames(unknownSymbol), [], 'an unknown symbol gives an empty FileDescriptorResponse (TCK)');

  for (const symbol of [SERVICE, `${SERVICE}.GetCart`, 'ingress.test.Cart', 'ingress.test.Kind', '.ingress.test.Item']) {
    const names = fileNames(await v1alpha.ask({ file_containing_symbol: symbol }));
    t.equal(names[0], 'ingress_test.proto', `${symbol}: its file first`);
    t.ok(names.includes('google/api/http.proto') && names.includes('google/protobuf/descriptor.proto'), `${symbol}: with transitive dependencies`);
    t.equal(new Set(names).size, names.length, 'each file once');
  }
  t.same(fileNames(await v1alpha.ask({ file_by_filename: 'google/api/annotations.proto' })), ['google/api/annotations.proto', 'google/api/http.proto', 'google/protobuf/descriptor.proto']);
  const noFile = await v1alpha.ask({ file_by_filename: 'nope.proto' });
  t.same(noFile.error_response, { error_code: 5, error_message: 'file nope.proto not found' });
  const extension = await v1alpha.ask({ file_containing_extension: { containing_type: 'google.protobuf.MethodOptions', extension_number: 72295728 } });
  t.equal(fileNames(extension)[0], 'google/api/annotations.proto');
  t.equal((await v1alpha.ask({ file_containing_extension: { containing_type: 'google.protobuf.MethodOptions', extension_number: 1 } })).error_response.error_code, 5);
  const numbers = await v1alpha.ask({ all_extension_numbers_of_type: 'google.protobuf.FieldOptions' });
  t.same(numbers.all_extension_numbers_response, { base_type_name: 'google.protobuf.FieldOptions', extension_number: [1080] });
  t.equal((await v1alpha.ask({ all_extension_numbers_of_type: 'no.Such' })).error_response.error_code, 5);
  const ownResponse = await v1alpha.ask({ file_containing_symbol: 'grpc.reflection.v1alpha.ServerReflection' });
  t.same(fileNames(ownResponse), ['grpc/reflection/v1alpha/reflection.proto'], 'the reflection service can be described too');
  const ownFile = fileType.toObject(fileType.decode(ownResponse.file_descriptor_response.file_descriptor_proto[0])) as Obj;
  t.match(ownFile, { package: 'grpc.reflection.v1alpha', service: [{ name: 'ServerReflection', method: [{ name: 'ServerReflectionInfo', input_type: '.grpc.reflection.v1alpha.ServerReflectionRequest', client_streaming: true, server_streaming: true }] }] });
  v1alpha.end();

  const v1 = reflection(client, 'v1');
  t.same((await v1.ask({ list_services: '' })).list_services_response, { service: [{ name: 'grpc.reflection.v1.ServerReflection' }, { name: SERVICE }] });
  v1.end();

  const requestType = reflectionRoot.lookupType('grpc.reflection.v1alpha.ServerReflectionRequest');
  const responseType = reflectionRoot.lookupType('grpc.reflection.v1alpha.ServerReflectionResponse');
  const overWeb = await webCall(f, '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo', [requestType.encode({ list_services: '' }).finish()]);
  t.same((responseType.toObject(responseType.decode(overWeb.messages[0]!)) as Obj).list_services_response, expected, 'reflection over gRPC-Web too');
});
