/**
 * The presence user function: serves the presence entity on `PORT` (default 8080), where a
 * Cloudstate proxy finds it (`USER_FUNCTION_PORT`). One per proxy node: `run.ts` starts two.
 * Run it alone with `node --import tsx samples/chat-presence/index.ts` after `npm run build` (it
 * imports the library as a user would, from `@cloudstate/cluster/function`).
 */
import { pathToFileURL } from 'node:url';
import { CloudstateServer, type CloudstateServerOptions } from '@cloudstate/cluster/function';
import { presenceEntity } from './presence.js';

export { presenceEntity } from './presence.js';

/** Starts the presence function on `port` (0: any free port); resolves the server and the bound port. */
export async function startPresence(
  port = 8080,
  options: { host?: string; logger?: CloudstateServerOptions['logger'] } = {},
): Promise<{ server: CloudstateServer; port: number }> {
  const server = new CloudstateServer({
    entities: [presenceEntity()],
    serviceName: 'chat-presence',
    serviceVersion: '0.1.0',
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const bound = await server.start({ host: options.host ?? '127.0.0.1', port });
  return { server, port: bound };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { server } = await startPresence(Number(process.env.PORT ?? 8080), { host: process.env.HOST ?? '127.0.0.1' });
  const stop = () => void server.shutdown().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
