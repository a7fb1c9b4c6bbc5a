import t from 'tap';
import { Cluster } from '../../../../src/cluster/index.js';
import { openMemoryStorage } from '../../../../src/persistence/index.js';
import { entityStorage, Sharding } from '../../../../src/sharding/index.js';
import { buildProxyModel } from '../../../../src/proxy/descriptors.js';
import { CallError, Status } from '../../../../src/proxy/dispatch.js';
import type { Dispatcher } from '../../../../src/proxy/dispatch.js';
import { createDispatcher } from '../../../../src/proxy/entities/index.js';
import { UserFunctionClient } from '../../../../src/proxy/user-function.js';
import { anyOf, FakeUserFunction, key, msg, msgText, testSpec } from './fake-user-function.js';
import type { Connection } from './fake-user-function.js';

/** Answers every command of a stream: the entity id back, or a failure for ids starting with "fail". */
async function answer(conn: Connection): Promise<void> {
  for (;;) {
    const m = await conn.received.next(60_000).catch(() => undefined);
    const command = m?.command as { id: unknown; entity_id: string } | undefined;
    if (!m) return;
    if (!command) continue;
    const client_action = command.entity_id.startsWith('fail')
      ? { failure: { command_id: command.id, description: `no ${command.entity_id}` } }
      : { reply: { payload: anyOf('t.Msg', msg(command.entity_id)) } };
    conn.send({ reply: { command_id: command.id, client_action, events: client_action.reply ? [anyOf('t.Ev', new Uint8Array([1]))] : [] } });
  }
}

t.test('commands and replies cross nodes: entities of both nodes answer calls made on one', async (t) => {
  const uf = await new FakeUserFunction().start();
  uf.spec = testSpec();
  t.teardown(() => uf.stop());
  void (async () => {
    for (;;) {
      const conn = await uf.eventSourced.next(60_000).catch(() => undefined);
      if (!conn) return;
      void answer(conn);
    }
  })();
  const storage = entityStorage(await openMemoryStorage());
  const model = buildProxyModel(testSpec());
  // Slow to suspect: on a loaded test machine a starved process must not see its peer as
  // unreachable. After such a flap (quorum lost, then regained) the shard coordinator singleton
  // was seen hosted nowhere, so commands to unallocated shards waited out the relay timeout.
  const config = { probeIntervalMs: 2000, probeTimeoutMs: 1000, suspicionMult: 20 };
  const a = await Cluster.start({ preset: 'local', config, seeds: [] });
  t.teardown(() => a.shutdown());
  await a.joined;
  const b = await Cluster.start({ preset: 'local', config, seeds: [a.address] });
  t.teardown(() => b.shutdown());
  await b.joined;
  const dispatchers: Dispatcher[] = [];
  for (const cluster of [a, b]) {
    const client = new UserFunctionClient({ port: uf.port });
    t.teardown(() => client.close());
    const sharding = new Sharding(cluster, { storage });
    t.teardown(() => sharding.stop());
    dispatchers.push(createDispatcher({ model, client, sharding, settings: { numberOfShards: 20 } }));
  }
  while (a.upMembers().length < 2) await new Promise((r) => a.once('change', r));
  const method = model.method('/t.Es/Cmd')!;
  const signal = new AbortController().signal;
  const ids = Array.from({ length: 20 }, (_, i) => `e${i}`);
  const replies = await Promise.all(ids.map((id) => dispatchers[1]!.unary(method, key(id), [], { signal })));
  t.same(replies.map((r) => msgText(r.payload)), ids, 'every entity answered');
  const writers = new Set<string>();
  for (const id of ids) for await (const e of storage.journal.replay(`es|${id}`)) writers.add(e.writerId);
  t.same([...writers].sort(), [a.self.id, b.self.id].sort(), 'entities run on both nodes (the writers of their events), so commands crossed to the other one');
  const failures = await Promise.all(
    ['fail1', 'fail2', 'fail3', 'fail4', 'fail5', 'fail6'].map((id) =>
      dispatchers[1]!.unary(method, key(id), [], { signal }).then(
        () => undefined,
        (err: unknown) => err,
      ),
    ),
  );
  for (const [i, err] of failures.entries()) {
    t.ok(err instanceof CallError && err.status === Status.UNKNOWN && err.message === `no fail${i + 1}`, `fail${i + 1}: the failure description, exactly`);
  }
});
