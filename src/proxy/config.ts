/**
 * The proxy's settings from its command line and environment: pure (argv and env in, a
 * `ProxyConfig` or a usage error out), so every flag and variable is table-tested. Environment
 * variable names are the reference proxy's where it has one (HTTP_PORT, USER_FUNCTION_HOST,
 * USER_FUNCTION_PORT, REMOTING_PORT, METRICS_HOST, METRICS_PORT, MANAGEMENT_PORT, POSTGRES_*,
 * CASSANDRA_*; EVENTING_* and the other durations are this proxy's own); flags win over the
 * environment. Secrets (POSTGRES_PASSWORD, CASSANDRA_PASSWORD) end up in the config: never log it whole.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_CONCURRENT_RECOVERIES } from '../sharding/index.js';
import { defaultEventingSettings } from './eventing/settings.js';
import type { EventingSettings } from './eventing/settings.js';

export type StoreKind = 'memory' | 'leveldb' | 'postgres' | 'cassandra';

export interface ProxyConfig {
  /** Interface and port of the ingress (gRPC, gRPC-Web, HTTP/JSON, /ready, /alive, /metrics). */
  readonly httpHost: string;
  readonly httpPort: number;
  /**
   * A second listener for `/metrics` only (the reference's Prometheus port), on `metricsHost`;
   * none when undefined. 0 picks a free port.
   */
  readonly metricsHost: string;
  readonly metricsPort: number | undefined;
  /** A second listener for `/ready` and `/alive` only (the reference's Akka management port), on `httpHost`; none when undefined. */
  readonly managementPort: number | undefined;
  /**
   * On stop, how long calls that answer once (unary, client streaming) may take to finish
   * before their connections are cut, ms (the reference's graceful-termination-timeout). Calls
   * that answer with a stream are ended at once (UNAVAILABLE), whatever this says.
   */
  readonly gracefulTerminationMs: number;
  readonly userFunctionHost: string;
  readonly userFunctionPort: number;
  /** Dev mode: a one-node cluster that joins itself. */
  readonly dev: boolean;
  /** Cluster membership: bind address and port (0 = any free port), and seeds (`host:port`). */
  readonly clusterHost: string;
  readonly clusterPort: number;
  readonly seeds: readonly string[];
  /** `local` (loopback, fast detection) or `lan`. */
  readonly clusterPreset: 'local' | 'lan';
  readonly store: StoreKind;
  /** LevelDB data directory. */
  readonly dataDir: string;
  readonly postgres: { readonly connectionString: string; readonly schema: string };
  readonly cassandra: {
    readonly contactPoints: readonly string[];
    readonly localDataCenter: string;
    readonly keyspace: string;
    /** Login, when the Cassandra cluster requires one (PasswordAuthenticator); undefined: none. */
    readonly username: string | undefined;
    readonly password: string | undefined;
  };
  readonly numberOfShards: number;
  /** Passivation of idle entities when discovery gives none, ms. */
  readonly passivationTimeoutMs: number;
  /** Entity recoveries (storage reads) one node runs at once; more wait (Akka's max-concurrent-recoveries). */
  readonly maxConcurrentRecoveries: number;
  /** How long a command may wait for its entity, ms (the reference's relay-timeout). */
  readonly relayTimeoutMs: number;
  /** Require the user function to speak exactly protocol 0.2. */
  readonly protocolCompatibilityCheck: boolean;
  /** A command that starts the user function as a child process (dev convenience). */
  readonly exec: string | undefined;
  /** Run the autoscaler (a cluster singleton; its settings come from the AUTOSCALER_* and related variables). */
  readonly autoscaler: boolean;
  /** Event-log consumers' batch size, polling, offset saving and backoff (ms). */
  readonly eventing: EventingSettings;
  readonly logLevel: string;
}

export const usage = `Usage: cloudstate-proxy [options]

Serves a Cloudstate (protocol 0.2) user function: discovers it, serves its gRPC services,
HTTP/JSON routes and gRPC-Web on one port, and keeps its entities' state.

Options (environment variable in brackets; flags win):
  --dev                      one-node cluster that joins itself (local development)
  --http-port <n>            ingress port, default 9000 [HTTP_PORT]
  --http-host <addr>         ingress interface, default 127.0.0.1 [HTTP_HOST]
  --metrics-port <n>         also serve /metrics on this port (on --metrics-host), default: only
                             on the ingress port [METRICS_PORT]
  --metrics-host <addr>      interface of the metrics port, default the --http-host [METRICS_HOST]
  --management-port <n>      also serve /ready and /alive on this port (on --http-host), default:
                             only on the ingress port [MANAGEMENT_PORT]
  --graceful-termination-timeout <ms>  on SIGTERM, how long calls in flight may take to finish,
                             default 10000; streaming answers end at once [GRACEFUL_TERMINATION_TIMEOUT]
  --user-function-host <h>   default 127.0.0.1 [USER_FUNCTION_HOST]
  --user-function-port <n>   default 8080 [USER_FUNCTION_PORT]
  --exec <command>           start the user function with this shell command (PORT is set to
                             the user function port) and stop it when the proxy stops
  --store <kind>             memory | leveldb | postgres | cassandra, default leveldb [STORE]
  --data-dir <dir>           LevelDB directory, default ./data [DATA_DIR]
  --postgres-url <url>       postgres://user:pass@host:port/db [POSTGRES_URL, or POSTGRES_SERVICE,
                             POSTGRES_PORT, POSTGRES_DATABASE, POSTGRES_USERNAME, POSTGRES_PASSWORD]
  --postgres-schema <name>   default public [POSTGRES_SCHEMA]
  --cassandra <hosts>        contact points, comma separated [CASSANDRA_CONTACT_POINTS]
                             (CASSANDRA_LOCAL_DC default datacenter1, CASSANDRA_KEYSPACE default cloudstate)
  --cassandra-username <u>   Cassandra login, default none [CASSANDRA_USERNAME]
  --cassandra-password <p>   its password; prefer the variable (a flag shows in ps) [CASSANDRA_PASSWORD]
  --cluster-host <addr>      cluster bind address, default 127.0.0.1 [CLUSTER_HOST]
  --cluster-port <n>         cluster port, default 2552, 0 in --dev [REMOTING_PORT]
  --seeds <list>             host:port of other members, comma separated [CLUSTER_SEEDS]
  --cluster-preset <p>       local | lan failure detection, default lan, local in --dev [CLUSTER_PRESET]
  --number-of-shards <n>     default 100 [NUMBER_OF_SHARDS]
  --passivation-timeout <ms> default 30000 [PASSIVATION_TIMEOUT]
  --relay-timeout <ms>       default 60000 [RELAY_TIMEOUT]
  --max-concurrent-recoveries <n>  entities recovering at once per node, default ${DEFAULT_MAX_CONCURRENT_RECOVERIES} [MAX_CONCURRENT_RECOVERIES]
  --no-protocol-check        accept a user function of another protocol version
  --autoscaler               run the autoscaler [AUTOSCALER_ENABLED=true]; settings: README
  --log-level <level>        default info [LOG_LEVEL]
  --help                     this text

Event-log consumers (eventing), durations in ms:
  --eventing-batch-size <n>      events per journal query, default ${defaultEventingSettings.batchSize} [EVENTING_BATCH_SIZE]
  --eventing-poll-interval <ms>  wait while the log is idle, default ${defaultEventingSettings.pollIntervalMs} [EVENTING_POLL_INTERVAL]
  --eventing-save-every <n>      save the offset after n events, default ${defaultEventingSettings.saveEveryEvents} [EVENTING_SAVE_EVERY]
  --eventing-save-after <ms>     or once unsaved this long, default ${defaultEventingSettings.saveAfterMs} [EVENTING_SAVE_AFTER]
  --eventing-min-backoff <ms>    first retry wait, doubling, default ${defaultEventingSettings.minBackoffMs} [EVENTING_MIN_BACKOFF]
  --eventing-max-backoff <ms>    longest retry wait, default ${defaultEventingSettings.maxBackoffMs} [EVENTING_MAX_BACKOFF]
  --eventing-random-factor <f>   0 to 1: up to this share added to a wait, default ${defaultEventingSettings.randomFactor}
                                 [EVENTING_RANDOM_FACTOR]
`;

export class ConfigError extends Error {
  readonly code = 'ERR_PROXY_CONFIG';
  constructor(message: string) {
    super(`${message}\n\n${usage}`);
    this.name = 'ConfigError';
  }
}

const stores: readonly StoreKind[] = ['memory', 'leveldb', 'postgres', 'cassandra'];

function integer(name: string, text: string | undefined, fallback: number, min = 0): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name} must be an integer >= ${min}, not ${JSON.stringify(text)}`);
  return value;
}

/** A number in [0, 1], e.g. a random factor. */
function fraction(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (text.trim() === '' || !(value >= 0 && value <= 1)) throw new ConfigError(`${name} must be a number from 0 to 1, not ${JSON.stringify(text)}`);
  return value;
}

/** A port to listen on when given (0: any free one), else undefined. */
function optionalPort(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const port = integer(name, text, 0);
  if (port > 65535) throw new ConfigError(`${name} must be a port number (0 to 65535), not ${JSON.stringify(text)}`);
  return port;
}

const nonEmpty = (text: string | undefined) => (text === undefined || text === '' ? undefined : text);

const list = (text: string | undefined) => (text ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');

function postgresUrl(env: NodeJS.ProcessEnv): string {
  if (env.POSTGRES_URL) return env.POSTGRES_URL;
  if (!env.POSTGRES_SERVICE) return '';
  const user = encodeURIComponent(env.POSTGRES_USERNAME ?? 'postgres');
  const password = env.POSTGRES_PASSWORD ? `:${encodeURIComponent(env.POSTGRES_PASSWORD)}` : '';
  return `postgres://${user}${password}@${env.POSTGRES_SERVICE}:${env.POSTGRES_PORT ?? '5432'}/${env.POSTGRES_DATABASE ?? 'cloudstate'}`;
}

/** `{ help: true }` when --help was asked for; otherwise the configuration. Throws ConfigError. */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): { help: true } | { help: false; config: ProxyConfig } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        dev: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        'http-port': { type: 'string' },
        'http-host': { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string' },
        'management-port': { type: 'string' },
        'graceful-termination-timeout': { type: 'string' },
        'user-function-host': { type: 'string' },
        'user-function-port': { type: 'string' },
        exec: { type: 'string' },
        store: { type: 'string' },
        'data-dir': { type: 'string' },
        'postgres-url': { type: 'string' },
        'postgres-schema': { type: 'string' },
        cassandra: { type: 'string' },
        'cassandra-username': { type: 'string' },
        'cassandra-password': { type: 'string' },
        'cluster-host': { type: 'string' },
        'cluster-port': { type: 'string' },
        seeds: { type: 'string' },
        'cluster-preset': { type: 'string' },
        'number-of-shards': { type: 'string' },
        'passivation-timeout': { type: 'string' },
        'relay-timeout': { type: 'string' },
        'max-concurrent-recoveries': { type: 'string' },
        'no-protocol-check': { type: 'boolean' },
        autoscaler: { type: 'boolean' },
        'log-level': { type: 'string' },
        'eventing-batch-size': { type: 'string' },
        'eventing-poll-interval': { type: 'string' },
        'eventing-save-every': { type: 'string' },
        'eventing-save-after': { type: 'string' },
        'eventing-min-backoff': { type: 'string' },
        'eventing-max-backoff': { type: 'string' },
        'eventing-random-factor': { type: 'string' },
      },
    });
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const o = parsed.values;
  if (o.help) return { help: true };
  const dev = o.dev === true;
  const store = (o.store ?? env.STORE ?? 'leveldb') as StoreKind;
  if (!stores.includes(store)) throw new ConfigError(`--store must be one of ${stores.join(', ')}, not ${JSON.stringify(store)}`);
  const preset = o['cluster-preset'] ?? env.CLUSTER_PRESET ?? (dev ? 'local' : 'lan');
  if (preset !== 'local' && preset !== 'lan') throw new ConfigError(`--cluster-preset must be local or lan, not ${JSON.stringify(preset)}`);
  const seeds = dev ? [] : list(o.seeds ?? env.CLUSTER_SEEDS);
  const httpHost = o['http-host'] ?? env.HTTP_HOST ?? '127.0.0.1';
  const config: ProxyConfig = {
    httpHost,
    httpPort: integer('--http-port', o['http-port'] ?? env.HTTP_PORT, 9000),
    metricsHost: o['metrics-host'] ?? env.METRICS_HOST ?? httpHost,
    metricsPort: optionalPort('--metrics-port', o['metrics-port'] ?? env.METRICS_PORT),
    managementPort: optionalPort('--management-port', o['management-port'] ?? env.MANAGEMENT_PORT),
    gracefulTerminationMs: integer('--graceful-termination-timeout', o['graceful-termination-timeout'] ?? env.GRACEFUL_TERMINATION_TIMEOUT, 10_000),
    userFunctionHost: o['user-function-host'] ?? env.USER_FUNCTION_HOST ?? '127.0.0.1',
    userFunctionPort: integer('--user-function-port', o['user-function-port'] ?? env.USER_FUNCTION_PORT, 8080),
    dev,
    clusterHost: o['cluster-host'] ?? env.CLUSTER_HOST ?? '127.0.0.1',
    clusterPort: integer('--cluster-port', o['cluster-port'] ?? env.REMOTING_PORT, dev ? 0 : 2552),
    seeds,
    clusterPreset: preset,
    store,
    dataDir: o['data-dir'] ?? env.DATA_DIR ?? './data',
    postgres: { connectionString: o['postgres-url'] ?? postgresUrl(env), schema: o['postgres-schema'] ?? env.POSTGRES_SCHEMA ?? 'public' },
    cassandra: {
      contactPoints: list(o.cassandra ?? env.CASSANDRA_CONTACT_POINTS),
      localDataCenter: env.CASSANDRA_LOCAL_DC ?? 'datacenter1',
      keyspace: env.CASSANDRA_KEYSPACE ?? 'cloudstate',
      username: nonEmpty(o['cassandra-username'] ?? env.CASSANDRA_USERNAME),
      password: nonEmpty(o['cassandra-password'] ?? env.CASSANDRA_PASSWORD),
    },
    numberOfShards: integer('--number-of-shards', o['number-of-shards'] ?? env.NUMBER_OF_SHARDS, 100, 1),
    passivationTimeoutMs: integer('--passivation-timeout', o['passivation-timeout'] ?? env.PASSIVATION_TIMEOUT, 30_000, 1),
    relayTimeoutMs: integer('--relay-timeout', o['relay-timeout'] ?? env.RELAY_TIMEOUT, 60_000, 1),
    maxConcurrentRecoveries: integer('--max-concurrent-recoveries', o['max-concurrent-recoveries'] ?? env.MAX_CONCURRENT_RECOVERIES, DEFAULT_MAX_CONCURRENT_RECOVERIES, 1),
    protocolCompatibilityCheck: o['no-protocol-check'] !== true,
    exec: o.exec,
    autoscaler: o.autoscaler === true || /^(true|1|yes|on)$/i.test(env.AUTOSCALER_ENABLED ?? ''),
    eventing: {
      batchSize: integer('--eventing-batch-size', o['eventing-batch-size'] ?? env.EVENTING_BATCH_SIZE, defaultEventingSettings.batchSize, 1),
      pollIntervalMs: integer('--eventing-poll-interval', o['eventing-poll-interval'] ?? env.EVENTING_POLL_INTERVAL, defaultEventingSettings.pollIntervalMs, 1),
      saveEveryEvents: integer('--eventing-save-every', o['eventing-save-every'] ?? env.EVENTING_SAVE_EVERY, defaultEventingSettings.saveEveryEvents, 1),
      saveAfterMs: integer('--eventing-save-after', o['eventing-save-after'] ?? env.EVENTING_SAVE_AFTER, defaultEventingSettings.saveAfterMs, 1),
      minBackoffMs: integer('--eventing-min-backoff', o['eventing-min-backoff'] ?? env.EVENTING_MIN_BACKOFF, defaultEventingSettings.minBackoffMs, 1),
      maxBackoffMs: integer('--eventing-max-backoff', o['eventing-max-backoff'] ?? env.EVENTING_MAX_BACKOFF, defaultEventingSettings.maxBackoffMs, 1),
      randomFactor: fraction('--eventing-random-factor', o['eventing-random-factor'] ?? env.EVENTING_RANDOM_FACTOR, defaultEventingSettings.randomFactor),
    },
    logLevel: o['log-level'] ?? env.LOG_LEVEL ?? 'info',
  };
  const { minBackoffMs, maxBackoffMs } = config.eventing;
  if (minBackoffMs > maxBackoffMs) {
    throw new ConfigError(`--eventing-min-backoff (${minBackoffMs}) must not exceed --eventing-max-backoff (${maxBackoffMs})`);
  }
  if (store === 'postgres' && config.postgres.connectionString === '') {
    throw new ConfigError('--store postgres needs --postgres-url (or POSTGRES_URL, or POSTGRES_SERVICE and friends)');
  }
  if (store === 'cassandra' && config.cassandra.contactPoints.length === 0) {
    throw new ConfigError('--store cassandra needs --cassandra <hosts> (or CASSANDRA_CONTACT_POINTS)');
  }
  if (store === 'cassandra' && config.cassandra.password !== undefined && config.cassandra.username === undefined) {
    // The driver logs in only with a username: a password alone would be silently unused.
    throw new ConfigError('a Cassandra password needs a username: --cassandra-username (or CASSANDRA_USERNAME)');
  }
  return { help: false, config };
}
