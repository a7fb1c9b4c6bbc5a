/**
 * `LocalProcessScaler`: starts and stops node processes on this machine, so autoscaling can be
 * seen working without a container platform. Each node is started from a command template
 * (`{index}` in the arguments or environment values becomes the node's number: 1, 2, …, never
 * reused); scaling down stops the newest nodes first with SIGTERM, so they leave the cluster
 * gracefully (shards hand off), and with SIGKILL if they are still there after `stopTimeoutMs`.
 * A node that exits by itself is forgotten, and the next `scale` call replaces it.
 *
 * It knows only the processes it started: run the autoscaler where those processes' parent
 * lives (a supervisor member with its own role, as in the integration test), since a new
 * autoscaler host elsewhere would not know them. Members it did not start but that count
 * towards the total (the process it runs in, say) are given as `unmanaged`.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'eventemitter3';
import { CloudstateError, describeError, silentLogger } from '../core/index.js';
import type { Logger } from '../core/index.js';
import type { Scaler } from './scaler.js';

export interface LocalProcessScalerOptions {
  /** The program, e.g. `process.execPath`. */
  command: string;
  /** Its arguments; `{index}` is replaced by the node's number. */
  args?: readonly string[];
  /** Added to this process's environment; `{index}` in values is replaced too. */
  env?: Record<string, string>;
  cwd?: string;
  /** Members that count towards the total but were not started here (default 0). */
  unmanaged?: number;
  /** After SIGTERM, how long a node may take to leave before SIGKILL, ms (default 30 s). */
  stopTimeoutMs?: number;
  /** The nodes' stdio (default `inherit`: their logs go to this process's stdout/stderr). */
  stdio?: SpawnOptions['stdio'];
  /** Injected for tests (default `child_process.spawn`). */
  spawn?: (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;
  logger?: Logger;
}

/** A node this scaler started. */
export interface LocalNode {
  /** Its number, from 1, in order of start. */
  readonly index: number;
  readonly process: ChildProcess;
  /** Set once SIGTERM was sent. */
  stopping: boolean;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
}

export type LocalProcessScalerEvents = {
  started: [node: LocalNode];
  /** SIGTERM sent: stop sending it work. */
  stopping: [node: LocalNode];
  exited: [node: LocalNode, code: number | null, signal: NodeJS.Signals | null];
};

export class LocalProcessScaler extends EventEmitter<LocalProcessScalerEvents> implements Scaler {
  private readonly running: LocalNode[] = [];
  private nextIndex = 1;
  private readonly log: Logger;

  constructor(private readonly options: LocalProcessScalerOptions) {
    super();
    this.log = (options.logger ?? silentLogger).child({ component: 'local-process-scaler' });
  }

  /** Nodes started and not yet told to stop, oldest first. */
  get nodes(): readonly LocalNode[] {
    return this.running.filter((n) => !n.stopping);
  }

  /** Starts or stops processes so that `members` − `unmanaged` of them run. Resolves once they are started or signalled. */
  async scale(members: number): Promise<void> {
    const target = Math.max(0, members - (this.options.unmanaged ?? 0));
    while (this.nodes.length < target) this.start();
    const live = this.nodes;
    for (let i = live.length - 1; i >= target; i--) this.stop(live[i]!);
  }

  /** Stops every node it started and waits until they have exited. */
  async stopAll(): Promise<void> {
    const all = [...this.running];
    for (const n of all) this.stop(n);
    await Promise.all(all.map((n) => n.exited));
  }

  /** Leaves the processes running (they are members; `stopAll` stops them). */
  async close(): Promise<void> {}

  private start(): LocalNode {
    const index = this.nextIndex++;
    const fill = (s: string) => s.replaceAll('{index}', String(index));
    const env = { ...process.env };
    for (const [k, v] of Object.entries(this.options.env ?? {})) env[k] = fill(v);
    const spawn = this.options.spawn ?? nodeSpawn;
    let proc: ChildProcess;
    try {
      proc = spawn(this.options.command, (this.options.args ?? []).map(fill), { cwd: this.options.cwd, env, stdio: this.options.stdio ?? 'inherit' });
    } catch (err) {
      throw new CloudstateError('ERR_AUTOSCALER_LOCAL_PROCESS', `could not start ${this.options.command}: ${describeError(err)}`, { cause: err });
    }
    let onExit!: () => void;
    const exited = new Promise<void>((resolve) => (onExit = resolve));
    const node: LocalNode = { index, process: proc, stopping: false, exited };
    this.running.push(node);
    proc.on('error', (err) => this.log.error({ index, err: describeError(err) }, 'node process error'));
    proc.once('exit', (code, signal) => {
      const at = this.running.indexOf(node);
      if (at >= 0) this.running.splice(at, 1);
      if (!node.stopping) this.log.warn({ index, code, signal }, 'node exited by itself; the next scale call replaces it');
      else this.log.info({ index, code, signal }, 'node stopped');
      onExit();
      this.emit('exited', node, code, signal);
    });
    this.log.info({ index, pid: proc.pid }, 'node started');
    this.emit('started', node);
    return node;
  }

  private stop(node: LocalNode): void {
    if (node.stopping) return;
    node.stopping = true;
    this.emit('stopping', node);
    if (node.process.exitCode !== null || node.process.signalCode !== null) return;
    node.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.log.warn({ index: node.index }, 'node did not leave in time: SIGKILL');
      node.process.kill('SIGKILL');
    }, this.options.stopTimeoutMs ?? 30_000);
    timer.unref();
    void node.exited.then(() => clearTimeout(timer));
  }
}
