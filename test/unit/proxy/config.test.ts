import t from 'tap';
import { ConfigError, parseConfig } from '../../../src/proxy/config.js';

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
