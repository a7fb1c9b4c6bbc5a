/**
 * `startAutoscaling`: the one call that turns autoscaling on for a node. On every node it
 * creates the autoscaler singleton's handle (the instance runs on the oldest up member of
 * `singletonRole`, and moves on a leave or failure) and, on nodes being scaled, a
 * `MetricsRecorder` for the proxy to call and a reporter that sends its samples to the
 * singleton. It wires the parts and owns nothing else.
 *
 * ```ts
 * if (autoscalerEnabled()) {                 // AUTOSCALER_ENABLED=true
 *   const autoscaling = startAutoscaling(cluster, {
 *     settings: autoscalerSettingsFromEnv(), // USER_FUNCTION_TARGET_CONCURRENCY, …
 *     scaler: scalerFromEnv(),               // Kubernetes when AUTOSCALER_DEPLOYMENT is set in a pod
 *     version: process.env.APP_VERSION,
 *     registry,                              // prom-client Registry served on /metrics
 *     logger,
 *   });
 * }
 * const m = autoscaling.recorder;   // m.requestStarted() … m.requestEnded(), on the hot path
 * ```
 */
import { silentLogger, systemClock, systemScheduler } from '../core/index.js';
import type { Clock, Logger, Scheduler } from '../core/index.js';
import type { Cluster } from '../cluster/index.js';
import type { Registry } from 'prom-client';
import { Autoscaler } from './autoscaler.js';
import type { AutoscalerMessage, AutoscalerReply } from './autoscaler.js';
import type { AutoscalerState } from './decide.js';
import { MetricsRecorder } from './metrics.js';
import { autoscalerPrometheus } from './prometheus.js';
import { MetricsReporter } from './reporter.js';
import { KubernetesDeploymentScaler } from './kubernetes-scaler.js';
import { NoScaler } from './scaler.js';
import type { Scaler } from './scaler.js';
import { resolveSettings } from './settings.js';
import type { AutoscalerSettings } from './settings.js';

/** What autoscaling needs of the cluster (a `Cluster` has it). */
export type AutoscalingCluster = Pick<Cluster, 'singleton' | 'upMembers' | 'self'>;

export interface AutoscalingOptions {
  /** Overrides of the defaults (see ./settings.ts; `autoscalerSettingsFromEnv()` reads the environment). */
  settings?: Partial<AutoscalerSettings>;
  /**
   * Makes the scaler, on the node that hosts the autoscaler, each time the instance starts there
   * (default: a `NoScaler`, which only logs). Give the same factory on every node that may host.
   */
  scaler?: () => Scaler | Promise<Scaler>;
  /** The members being scaled: they report metrics and are counted (default: every member). */
  role?: string;
  /** Members that may host the autoscaler (default: `role`). */
  singletonRole?: string;
  /** The recorder this node's proxy calls (default: a new one, if this node has `role`). */
  recorder?: MetricsRecorder;
  /** This node's software version, reported so that a rolling upgrade is recognised. */
  version?: string;
  /** Where the autoscaler's metrics go (only on the host; see ./prometheus.ts). */
  registry?: Registry;
  /** The singleton's name (default `cloudstate-autoscaler`); the same on every node. */
  name?: string;
  /** How often the host reads the scaler's status, ms (default 20 s). */
  statusIntervalMs?: number;
  clock?: Clock;
  scheduler?: Scheduler;
  logger?: Logger;
}

/** Autoscaling as one node runs it. */
export interface Autoscaling {
  /** Call it on the hot path (requests, user-function calls, database operations). */
  readonly recorder: MetricsRecorder;
  /** True when this node reports metrics (it has the scaled role). */
  readonly reporting: boolean;
  /** The autoscaler instance, while it runs on this node. */
  readonly instance: Autoscaler | undefined;
  /** The autoscaler's state as this node last heard it. */
  readonly knownState: AutoscalerState | undefined;
  readonly settings: AutoscalerSettings;
  /** Stops reporting and, on the host, the instance (the singleton moves to another node). */
  stop(): Promise<void>;
}

/** Turns autoscaling on for this node (see the module comment). Throws `ERR_AUTOSCALER_SETTINGS` on a bad setting. */
export function startAutoscaling(cluster: AutoscalingCluster, options: AutoscalingOptions = {}): Autoscaling {
  const settings = resolveSettings(options.settings);
  const clock = options.clock ?? systemClock;
  const scheduler = options.scheduler ?? systemScheduler;
  const log = options.logger ?? silentLogger;
  const role = options.role;
  const recorder = options.recorder ?? new MetricsRecorder({ clock, version: options.version });
  if (options.version !== undefined) recorder.version = options.version;
  let instance: Autoscaler | undefined;
  let reporter: MetricsReporter | undefined;

  const members = () => cluster.upMembers().filter((m) => role === undefined || m.roles.includes(role)).map((m) => m.id);
  const singleton = cluster.singleton<AutoscalerMessage, AutoscalerReply>({
    name: options.name ?? 'cloudstate-autoscaler',
    role: options.singletonRole ?? role,
    timeoutMs: Math.max(5_000, 5 * settings.reportIntervalMs),
    bufferSize: 100,
    create: async () => {
      const scaler: Scaler = options.scaler ? await options.scaler() : new NoScaler();
      const created = new Autoscaler({
        settings,
        scaler,
        members,
        initialState: reporter?.knownState,
        statusIntervalMs: options.statusIntervalMs,
        metrics: options.registry ? autoscalerPrometheus(options.registry) : undefined,
        clock,
        scheduler,
        logger: log,
      });
      instance = created;
      return {
        receive: (message, from) => created.receive(message, from),
        stop: async () => {
          if (instance === created) instance = undefined;
          await created.stop();
          await scaler.close?.();
        },
      };
    },
  });

  const reporting = role === undefined || cluster.self.roles.includes(role);
  if (reporting) {
    reporter = new MetricsReporter({ recorder, send: (message) => singleton.ask(message), intervalMs: settings.reportIntervalMs, scheduler, logger: log });
  }

  return {
    recorder,
    reporting,
    settings,
    get instance() {
      return instance;
    },
    get knownState() {
      return instance?.state ?? reporter?.knownState;
    },
    async stop() {
      reporter?.stop();
      await singleton.close();
    },
  };
}

/**
 * The scaler the environment asks for, as a factory for `AutoscalingOptions.scaler`: a
 * `KubernetesDeploymentScaler` of the Deployment named by `AUTOSCALER_DEPLOYMENT` when that is
 * set (in a pod, where `KUBERNETES_SERVICE_HOST` is), otherwise a `NoScaler` (decisions are only
 * logged and exported).
 */
export function scalerFromEnv(env: Record<string, string | undefined> = process.env): () => Scaler {
  const deployment = env.AUTOSCALER_DEPLOYMENT;
  if (!deployment) return () => new NoScaler();
  return () => new KubernetesDeploymentScaler({ deployment, env });
}
