/**
 * The `cloudstate-proxy` process: configuration from argv and the environment, the user
 * function as a child when `--exec` asks for it, the proxy, and the signals: SIGTERM/SIGINT
 * stop it gracefully (a second one exits at once). Exit codes: 0 after a graceful stop, 1 when
 * it cannot start (invalid configuration, store, or user function spec), 2 on a usage error.
 */
import { createLogger } from '../core/index.js';
import { ConfigError, parseConfig, usage } from './config.js';
import { startUserFunctionProcess, type UserFunctionProcess } from './child.js';
import { startProxy, type RunningProxy } from './proxy.js';

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed;
  try {
    parsed = parseConfig(argv, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`cloudstate-proxy: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (parsed.help) {
    process.stdout.write(usage);
    return 0;
  }
  const { config } = parsed;
  const logger = createLogger({ name: 'cloudstate-proxy', level: config.logLevel });
  const aborter = new AbortController();
  let child: UserFunctionProcess | undefined;
  let proxy: RunningProxy | undefined;
  let stopping = false;
  const done = new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'stopping');
      aborter.abort(new Error(`stopped by ${signal}`));
      void (async () => {
        await proxy?.close();
        await child?.stop();
        resolve(0);
      })();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  if (config.exec !== undefined) child = startUserFunctionProcess(config.exec, config.userFunctionPort, logger.child({ part: 'exec' }));
  try {
    proxy = await startProxy(config, logger, aborter.signal);
  } catch (error) {
    if (stopping) return done;
    logger.error({ err: (error as Error).message, code: (error as { code?: string }).code }, 'cannot start');
    await child?.stop();
    return 1;
  }
  if (stopping) await proxy.close();
  return done;
}
