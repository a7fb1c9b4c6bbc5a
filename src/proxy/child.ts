/**
 * `--exec`: the user function as a child process of the proxy (local development). The child
 * gets `PORT` (and `USER_FUNCTION_PORT`) set to the port the proxy expects it on; its output is
 * passed through line by line with a prefix; it is stopped (SIGTERM, then SIGKILL after a
 * grace period) when the proxy stops. If it exits on its own, the proxy keeps serving and
 * answers UNAVAILABLE until a user function listens again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from '../core/index.js';

export interface UserFunctionProcess {
  readonly pid: number | undefined;
  stop(graceMs?: number): Promise<void>;
}

export function startUserFunctionProcess(command: string, port: number, logger: Logger): UserFunctionProcess {
  const child: ChildProcess = spawn(command, {
    shell: true,
    // Its own process group, so stopping it reaches the shell's children too.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: String(port), USER_FUNCTION_PORT: String(port) },
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => process.stderr.write(`[user-function] ${line}\n`));
  }
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      logger.warn({ code, signal }, 'user function process exited');
      resolve();
    });
    child.once('error', (error) => {
      exited = true;
      logger.error({ err: error.message, command }, 'user function process could not start');
      resolve();
    });
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  logger.info({ command, port, pid: child.pid }, 'started the user function');
  return {
    pid: child.pid,
    async stop(graceMs = 5000) {
      if (exited) return;
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
