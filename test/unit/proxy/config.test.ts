import t from 'tap';
import { ConfigError, parseConfig, usage } from '../../../src/proxy/config.js';

const config = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const parsed = parseConfig(argv, env);
  if (parsed.help) throw new Error('unexpected help');
  return parsed.config;
};

t.test('defaults are the reference proxy\'s', async (t) => {
  const c = config([]);
  t.match(c, {
    httpHost: '127.0.0.1',
    httpPort: 9000,
    userFunctionHost: '127.0.0.1',
    userFunctionPort: 8080,
    dev: false,
    clusterPort: 2552,
    clusterPreset: 'lan',
    store: 'leveldb',
    dataDir: './data',
    numberOfShards: 100,
    passivationTimeoutMs: 30000,
    relayTimeoutMs: 60000,
    maxConcurrentRecoveries: 50,
    protocolCompatibilityCheck: true,
    autoscaler: false,
  });
  t.equal(config([], { AUTOSCALER_ENABLED: 'true' }).autoscaler, true);
  t.equal(config(['--autoscaler']).autoscaler, true);
});

t.test('--dev forms a one-node cluster on a free port with fast detection, ignoring seeds', async (t) => {
  const c = config(['--dev'], { CLUSTER_SEEDS: '10.0.0.1:2552' });
  t.equal(c.dev, true);
  t.equal(c.clusterPort, 0);
  t.equal(c.clusterPreset, 'local');
  t.same(c.seeds, []);
});

t.test('environment variables, and flags over them', async (t) => {
  const env = { HTTP_PORT: '9100', USER_FUNCTION_PORT: '8090', USER_FUNCTION_HOST: 'uf', REMOTING_PORT: '2600', CLUSTER_SEEDS: 'a:1, b:2' };
  t.match(config([], env), { httpPort: 9100, userFunctionPort: 8090, userFunctionHost: 'uf', clusterPort: 2600, seeds: ['a:1', 'b:2'] });
  t.match(config(['--http-port', '9200', '--seeds', 'c:3'], env), { httpPort: 9200, seeds: ['c:3'] });
  t.equal(config([], { MAX_CONCURRENT_RECOVERIES: '8' }).maxConcurrentRecoveries, 8, 'MAX_CONCURRENT_RECOVERIES');
  t.equal(config(['--max-concurrent-recoveries', '4'], { MAX_CONCURRENT_RECOVERIES: '8' }).maxConcurrentRecoveries, 4, '--max-concurrent-recoveries over it');
});

t.test('stores: Postgres from a URL or from the reference\'s POSTGRES_* variables', async (t) => {
  t.equal(config(['--store', 'memory']).store, 'memory');
  t.equal(config(['--store', 'postgres', '--postgres-url', 'postgres://u@h/d']).postgres.connectionString, 'postgres://u@h/d');
  const env = { POSTGRES_SERVICE: 'db', POSTGRES_USERNAME: 'cs', POSTGRES_PASSWORD: 'p w', POSTGRES_DATABASE: 'carts' };
  t.equal(config(['--store', 'postgres'], env).postgres.connectionString, 'postgres://cs:p%20w@db:5432/carts');
  t.same(config(['--store', 'cassandra'], { CASSANDRA_CONTACT_POINTS: 'h1,h2:9043' }).cassandra.contactPoints, ['h1', 'h2:9043']);
});

t.test('bad input is a ConfigError that says what is wrong and shows the usage', async (t) => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--store', 'mongo'], {}, /--store must be one of memory, leveldb, postgres, cassandra/],
    [['--http-port', 'abc'], {}, /--http-port must be an integer/],
    [[], { HTTP_PORT: '-1' }, /--http-port must be an integer >= 0/],
    [['--store', 'postgres'], {}, /--store postgres needs --postgres-url/],
    [['--store', 'cassandra'], {}, /needs --cassandra/],
    [['--frobnicate'], {}, /Unknown option '--frobnicate'/],
    [['--cluster-preset', 'wan'], {}, /local or lan/],
    [['--max-concurrent-recoveries', '0'], {}, /--max-concurrent-recoveries must be an integer >= 1/],
  ];
  for (const [argv, env, message] of cases) {
    t.throws(() => parseConfig(argv, env), { name: 'ConfigError', message }, argv.join(' '));
    t.throws(() => parseConfig(argv, env), { message: /Usage: cloudstate-proxy/ });
  }
  t.ok(new ConfigError('x') instanceof Error);
});

t.test('--help', async (t) => {
  t.same(parseConfig(['--help'], {}), { help: true });
});

// Event-log consumers' settings: one row per flag, with its variable, its field and a value.
const eventingFlags: [flag: string, variable: string, field: string, text: string, value: number][] = [
  ['--eventing-batch-size', 'EVENTING_BATCH_SIZE', 'batchSize', '500', 500],
  ['--eventing-poll-interval', 'EVENTING_POLL_INTERVAL', 'pollIntervalMs', '50', 50],
  ['--eventing-save-every', 'EVENTING_SAVE_EVERY', 'saveEveryEvents', '1', 1],
  ['--eventing-save-after', 'EVENTING_SAVE_AFTER', 'saveAfterMs', '250', 250],
  ['--eventing-min-backoff', 'EVENTING_MIN_BACKOFF', 'minBackoffMs', '100', 100],
  ['--eventing-max-backoff', 'EVENTING_MAX_BACKOFF', 'maxBackoffMs', '60000', 60_000],
  ['--eventing-random-factor', 'EVENTING_RANDOM_FACTOR', 'randomFactor', '0.5', 0.5],
];

t.test('eventing: the reference projection\'s defaults', async (t) => {
  t.same(config([]).eventing, { batchSize: 100, pollIntervalMs: 200, saveEveryEvents: 20, saveAfterMs: 1000, minBackoffMs: 3000, maxBackoffMs: 30000, randomFactor: 0.2 });
});

t.test('eventing: each flag and each variable sets its field alone; flags win', async (t) => {
  const defaults = config([]).eventing;
  for (const [flag, variable, field, text, value] of eventingFlags) {
    t.same(config([flag, text]).eventing, { ...defaults, [field]: value }, flag);
    t.same(config([], { [variable]: text }).eventing, { ...defaults, [field]: value }, variable);
    t.same(config([flag, text], { [variable]: String(defaults[field as keyof typeof defaults]) }).eventing, { ...defaults, [field]: value }, `${flag} over ${variable}`);
  }
  t.equal(config(['--eventing-random-factor', '0']).eventing.randomFactor, 0, 'no randomness');
  t.equal(config(['--eventing-random-factor', '1']).eventing.randomFactor, 1, 'up to double');
  t.match(config(['--eventing-min-backoff', '500', '--eventing-max-backoff', '500']).eventing, { minBackoffMs: 500, maxBackoffMs: 500 }, 'a fixed backoff');
});

t.test('eventing: a bad value is a ConfigError naming the flag and the value', async (t) => {
  const integers = eventingFlags.filter(([flag]) => flag !== '--eventing-random-factor');
  for (const [flag, variable] of integers) {
    for (const bad of ['0', '-5', '1.5', 'abc', '10s']) {
      const message = new RegExp(`${flag} must be an integer >= 1, not "${bad.replace('.', '\\.')}"`);
      t.throws(() => parseConfig([`${flag}=${bad}`], {}), { name: 'ConfigError', message }, `${flag}=${bad}`);
      t.throws(() => parseConfig([], { [variable]: bad }), { name: 'ConfigError', message }, `${variable}=${bad}`);
    }
  }
  for (const bad of ['1.5', '-0.1', 'abc', ' ', 'NaN']) {
    const message = new RegExp(`--eventing-random-factor must be a number from 0 to 1, not ${JSON.stringify(bad).replace('.', '\\.')}`);
    t.throws(() => parseConfig([`--eventing-random-factor=${bad}`], {}), { name: 'ConfigError', message }, `--eventing-random-factor=${JSON.stringify(bad)}`);
    t.throws(() => parseConfig([], { EVENTING_RANDOM_FACTOR: bad }), { name: 'ConfigError', message }, `EVENTING_RANDOM_FACTOR=${JSON.stringify(bad)}`);
  }
  t.throws(() => parseConfig(['--eventing-min-backoff', '5000', '--eventing-max-backoff', '4000'], {}), {
    name: 'ConfigError',
    message: /--eventing-min-backoff \(5000\) must not exceed --eventing-max-backoff \(4000\)/,
  });
  t.throws(() => parseConfig([], { EVENTING_MIN_BACKOFF: '60000' }), { message: /--eventing-min-backoff \(60000\) must not exceed --eventing-max-backoff \(30000\)/ }, 'against the default maximum');
});

t.test('--help lists every eventing flag and variable', async (t) => {
  for (const [flag, variable] of eventingFlags) {
    t.match(usage, flag);
    t.match(usage, variable);
  }
});

t.test('Cassandra login: CASSANDRA_USERNAME / CASSANDRA_PASSWORD, flags over them; none by default', async (t) => {
  const cassandra = (argv: string[], env: NodeJS.ProcessEnv = {}) => config(['--store', 'cassandra', '--cassandra', 'h1', ...argv], env).cassandra;
  t.match(cassandra([]), { username: undefined, password: undefined });
  t.match(cassandra([], { CASSANDRA_USERNAME: 'cs', CASSANDRA_PASSWORD: 's3cret' }), { username: 'cs', password: 's3cret' });
  t.match(cassandra(['--cassandra-username', 'admin', '--cassandra-password', 'pw'], { CASSANDRA_USERNAME: 'cs', CASSANDRA_PASSWORD: 's3cret' }), {
    username: 'admin',
    password: 'pw',
  });
  t.match(cassandra([], { CASSANDRA_USERNAME: 'cs' }), { username: 'cs', password: undefined }, 'a username alone (an empty password)');
  t.match(cassandra([], { CASSANDRA_USERNAME: '', CASSANDRA_PASSWORD: '' }), { username: undefined, password: undefined }, 'empty variables are unset');
  t.throws(() => parseConfig(['--store', 'cassandra', '--cassandra', 'h1'], { CASSANDRA_PASSWORD: 's3cret' }), {
    name: 'ConfigError',
    message: /a Cassandra password needs a username: --cassandra-username \(or CASSANDRA_USERNAME\)/,
  });
  t.doesNotThrow(() => parseConfig([], { CASSANDRA_PASSWORD: 's3cret' }), 'ignored when the store is not Cassandra');
});

t.test('--graceful-termination-timeout: the reference\'s 10 s by default, ms, 0 allowed', async (t) => {
  t.equal(config([]).gracefulTerminationMs, 10_000);
  t.equal(config([], { GRACEFUL_TERMINATION_TIMEOUT: '2500' }).gracefulTerminationMs, 2500);
  t.equal(config(['--graceful-termination-timeout', '0'], { GRACEFUL_TERMINATION_TIMEOUT: '2500' }).gracefulTerminationMs, 0, 'the flag wins');
  t.throws(() => parseConfig(['--graceful-termination-timeout', '10s'], {}), { name: 'ConfigError', message: /--graceful-termination-timeout must be an integer >= 0, not "10s"/ });
});

t.test('metrics and management ports: off unless given; METRICS_PORT, METRICS_HOST, MANAGEMENT_PORT', async (t) => {
  t.match(config([]), { metricsPort: undefined, managementPort: undefined, metricsHost: '127.0.0.1' });
  t.match(config([], { METRICS_PORT: '9090', MANAGEMENT_PORT: '8558', METRICS_HOST: '0.0.0.0' }), { metricsPort: 9090, managementPort: 8558, metricsHost: '0.0.0.0' });
  t.match(config(['--metrics-port', '0', '--management-port', '0', '--metrics-host', '::1'], { METRICS_PORT: '9090', MANAGEMENT_PORT: '8558' }), {
    metricsPort: 0,
    managementPort: 0,
    metricsHost: '::1',
  });
  t.equal(config(['--http-host', '10.0.0.5']).metricsHost, '10.0.0.5', 'the metrics host follows the ingress host by default');
  t.match(config([], { METRICS_PORT: '', MANAGEMENT_PORT: '' }), { metricsPort: undefined, managementPort: undefined }, 'empty variables are unset');
  for (const [argv, env, message] of [
    [['--metrics-port', 'x'], {}, /--metrics-port must be an integer >= 0, not "x"/],
    [[], { MANAGEMENT_PORT: '70000' }, /--management-port must be a port number \(0 to 65535\), not "70000"/],
  ] as [string[], NodeJS.ProcessEnv, RegExp][]) {
    t.throws(() => parseConfig(argv, env), { name: 'ConfigError', message });
  }
});

t.test('--help documents the new flags and variables', async (t) => {
  for (const word of [
    '--cassandra-username',
    'CASSANDRA_USERNAME',
    '--cassandra-password',
    'CASSANDRA_PASSWORD',
    '--graceful-termination-timeout',
    'GRACEFUL_TERMINATION_TIMEOUT',
    '--metrics-port',
    'METRICS_PORT',
    '--metrics-host',
    'METRICS_HOST',
    '--management-port',
    'MANAGEMENT_PORT',
  ]) {
    t.match(usage, word);
  }
});
