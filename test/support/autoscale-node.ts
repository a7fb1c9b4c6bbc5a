// A scaled member for the autoscaler's integration test, in its own process: joins the seeds
// given as arguments (local preset, patient suspicion) with the role `worker`, hosts in-memory counters (type
// `counter`, role `worker`) whose handler stands for a user function (it takes
// AUTOSCALE_WORK_MS, default 30 ms), and reports its metrics to the autoscaler singleton, which
// runs elsewhere (role `autoscaler`). Settings come as JSON in AUTOSCALE_SETTINGS. It prints
// `ready <address> <id>`, then serves the test over stdin/stdout, one line each way:
//
//   ask <reqId> <entityId>  →  reply <reqId> ok <value> | reply <reqId> err <code>
//   state <reqId>           →  reply <reqId> ok {"id","up","shards"}
//
// SIGTERM leaves the cluster gracefully (shards hand off), then exits 0; the log (pino JSON)
// goes to stderr. When stdin closes (the test is gone) the process exits.
import { createInterface } from 'node:readline';
import { startAutoscaling } from '../../src/autoscale/index.js';
import { Cluster } from '../../src/cluster/index.js';
import { createLogger, describeError } from '../../src/core/index.js';
import { Sharding, inMemory } from '../../src/sharding/index.js';

const logger = createLogger({ name: 'autoscale-node', level: process.env.AUTOSCALE_LOG_LEVEL ?? 'info' });
const workMs = Number(process.env.AUTOSCALE_WORK_MS ?? 30);
const settings = JSON.parse(process.env.AUTOSCALE_SETTINGS ?? '{}') as Record<string, number>;

// Loopback timings, but patient with a busy machine: a node stalled for a second or two by
// CPU contention must not be declared dead (this test is about scaling, not failures).
const config = { probeIntervalMs: 500, probeTimeoutMs: 200, suspicionMult: 20 };
// (The timeout used to be set to 200 ms on the local preset's 100 ms interval: every probe's
// verdict then came before its indirect probes, and a newly started worker, slow to read one
// ack, made a suspect of the busy one at once. `swimConfig` now refuses that.) This test is
// about the autoscaler, not failure detection: nobody is downed for being unreachable.
const cluster = await Cluster.start({ preset: 'local', config, stableAfterMs: 600_000, seeds: process.argv.slice(2), roles: ['worker'], logger });
const autoscaling = startAutoscaling(cluster, { role: 'worker', singletonRole: 'autoscaler', settings, logger, version: 'test' });
const metrics = autoscaling.recorder;
const sharding = new Sharding(cluster, { logger });
const counters = sharding.init({
  typeName: 'counter',
  role: 'worker',
  numberOfShards: 20,
  rebalanceIntervalMs: 500,
  behavior: inMemory<{ type: 'add' }, number, number>({
    initial: 0,
    receive: async (state) => {
      metrics.userFunctionStarted();
      try {
        await new Promise((resolve) => setTimeout(resolve, workMs));
      } finally {
        metrics.userFunctionEnded();
      }
      return { state: state + 1, reply: state + 1 };
    },
  }),
});
cluster.on('change', (e) => logger.info({ member: e.member.id }, e.type));
await cluster.joined;
process.stdout.write(`ready ${cluster.address} ${cluster.self.id}\n`);

let leaving = false;
process.on('SIGTERM', () => {
  if (leaving) return;
  leaving = true;
  logger.info('SIGTERM: leaving the cluster');
  void autoscaling
    .stop()
    .then(() => cluster.leave())
    .then(
      () => process.exit(0),
      (err) => {
        logger.error({ err: describeError(err) }, 'leave failed');
        process.exit(1);
      },
    );
});

const answer = (reqId: string, outcome: string) => process.stdout.write(`reply ${reqId} ${outcome}\n`);
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [verb, reqId = '?', entityId = ''] = line.split(' ');
  if (verb === 'state') {
    answer(reqId, `ok ${JSON.stringify({ id: cluster.self.id, up: cluster.upMembers().length, shards: counters.region.hostedShards() })}`);
  } else if (verb === 'ask') {
    const started = metrics.requestStarted();
    counters
      .entityRef(entityId)
      .ask({ type: 'add' }, { timeoutMs: 10_000 })
      .then(
        (reply) => answer(reqId, `ok ${JSON.stringify(reply)}`),
        (err: { code?: unknown }) => answer(reqId, `err ${typeof err?.code === 'string' ? err.code : 'ERR_UNKNOWN'}`),
      )
      .finally(() => metrics.requestEnded(started));
  } else {
    answer(reqId, 'err ERR_BAD_REQUEST');
  }
});
lines.on('close', () => process.exit(0));
