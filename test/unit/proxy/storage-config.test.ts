// What the proxy hands the storage plugin: the Cassandra login from the configuration reaches
// the plugin's options (whose `credentials` the driver sends), and is absent when not configured.
import t from 'tap';
import { silentLogger } from '../../../src/core/index.js';
import { parseConfig } from '../../../src/proxy/config.js';
import { storageConfig } from '../../../src/proxy/proxy.js';

const configOf = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const parsed = parseConfig(argv, env);
  if (parsed.help) throw new Error('unexpected help');
  return parsed.config;
};

t.test('Cassandra: contact points, data center, keyspace and the login', async (t) => {
  const env = { CASSANDRA_CONTACT_POINTS: 'h1,h2:9043', CASSANDRA_LOCAL_DC: 'dc2', CASSANDRA_KEYSPACE: 'carts', CASSANDRA_USERNAME: 'cs', CASSANDRA_PASSWORD: 's3cret' };
  t.same(storageConfig(configOf(['--store', 'cassandra'], env), silentLogger), {
    kind: 'cassandra',
    contactPoints: ['h1', 'h2:9043'],
    localDataCenter: 'dc2',
    keyspace: 'carts',
    username: 'cs',
    password: 's3cret',
  });
  t.match(storageConfig(configOf(['--store', 'cassandra', '--cassandra-username', 'u', '--cassandra-password', 'p'], env), silentLogger), { username: 'u', password: 'p' });
});

t.test('Cassandra without a login: no username or password options at all', async (t) => {
  const options = storageConfig(configOf(['--store', 'cassandra', '--cassandra', 'h1']), silentLogger);
  t.notOk('username' in options, 'no username');
  t.notOk('password' in options, 'no password');
  const userOnly = storageConfig(configOf(['--store', 'cassandra', '--cassandra', 'h1', '--cassandra-username', 'cs']), silentLogger);
  t.match(userOnly, { username: 'cs' });
  t.notOk('password' in userOnly, 'the plugin sends an empty password');
});
