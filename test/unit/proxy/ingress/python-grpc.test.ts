// The ingress against an independent gRPC implementation: Python's grpcio (Debian's
// python3-grpcio, C core). Skipped, saying why, where no Python has grpc.
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { here, method, startFixture } from './fixtures/harness.js';

function pythonWithGrpc(): string | undefined {
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(python, ['-c', 'import grpc'], { stdio: 'ignore' });
      return python;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

const python = pythonWithGrpc();
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

t.test('Python grpcio calls the ingress: unary with metadata, server and bidi streams, statuses', { skip: python === undefined ? 'no python3 with grpc (apt-get install python3-grpcio)' : false }, async (t) => {
  const f = await startFixture(t);
  const echo = method('Echo');
  const watch = method('Watch');
  const chat = method('Chat');
  const args = [
    join(here, 'python_client.py'),
    String(f.port),
    hex(echo.inputType.encode({ name: 'from python', quantity: 7 }).finish()),
    hex(watch.inputType.encode({ userId: 'u1' }).finish()),
    ['a', 'b', 'c'].map((name) => hex(chat.inputType.encode({ name }).finish())).join(','),
    hex(echo.inputType.encode({ name: 'fail:Ünïcode 100%' }).finish()),
    hex(method('GetCart').inputType.encode({ userId: 'slow' }).finish()),
  ];
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(python!, args, { timeout: 30_000 }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out))),
  );
  const seen = JSON.parse(stdout) as Record<string, any>;
  const decode = (type: typeof echo.outputType, h: string) => type.toObject(type.decode(Buffer.from(h, 'hex')), { longs: String });
  t.same(decode(echo.outputType, seen.echo), { name: 'from python', quantity: 7 });
  t.equal(seen.echo_headers['x-reply'], 'yes');
  t.equal(seen.echo_headers['x-trace-bin'], '010203');
  const request = f.dispatcher.calls.find((c) => c.method === 'Echo')!;
  t.same(request.metadata.find((e) => e.key === 'x-user'), { key: 'x-user', string_value: 'py' });
  t.same(Buffer.from(request.metadata.find((e) => e.key === 'x-blob-bin')?.bytes_value ?? []), Buffer.from([1, 2]));
  t.same(
    (seen.watch as string[]).map((h) => decode(watch.outputType, h).total),
    ['1', '2', '3'],
  );
  t.same(
    (seen.chat as string[]).map((h) => decode(chat.outputType, h).name),
    ['echo a', 'echo b', 'echo c'],
  );
  t.same(seen.fail, ['UNKNOWN', 'Ünïcode 100%']);
  t.equal(seen.unknown[0], 'UNIMPLEMENTED');
  t.equal(seen.deadline[0], 'DEADLINE_EXCEEDED');
  await f.dispatcher.whenAborted('slow');
});
