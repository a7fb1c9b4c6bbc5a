/**
 * The entities' Prometheus metrics (src/proxy/entities/instrumentation.ts), as a registry
 * renders them: an event-sourced and a value entity type on sharding, driven by the scripted
 * user function through activation and recovery, commands (replies, a failure, a crash),
 * events, a snapshot, state updates and a delete, passivation, a failed recovery and a
 * recovery from the snapshot. Counts are exact; of times only how many were observed.
 */
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { silentLogger, systemScheduler } from '../../../../src/core/index.js';
import { protocolType, type Any } from '../../../../src/protocol/index.js';
import { eventSourcedBehavior } from '../../../../src/proxy/entities/event-sourced.js';
import { EntityMetrics } from '../../../../src/proxy/entities/instrumentation.js';
import { entityMessageSerializer } from '../../../../src/proxy/entities/messages.js';
import type { EntityCommand, UserFunctionReply } from '../../../../src/proxy/entities/messages.js';
import type { EntitySupportOptions } from '../../../../src/proxy/entities/stream-entity.js';
import { valueEntityBehavior } from '../../../../src/proxy/entities/value-entity.js';
import { lru } from '../../../../src/sharding/index.js';
import type { EntityBehavior } from '../../../../src/sharding/index.js';
import { anyOf, key, msg, type Connection } from './fake-user-function.js';
import { startParts } from './harness.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const event = (s: string) => anyOf('t.Ev', bytes(s));
const state = (s: string) => anyOf('t.State', bytes(s));
const replyTo = (id: number, extra: object = {}) => ({ reply: { command_id: id, client_action: { reply: { payload: anyOf('t.Msg', msg('ok')) } }, ...extra } });
const failureTo = (id: number) => ({ reply: { command_id: id, client_action: { failure: { command_id: id, description: 'no' } } } });
/** An `Any`'s encoded size, as protobuf encodes it. */
const sizeOf = (any: Any) => protocolType('google.protobuf.Any').encode(any).finish().length;

/** The samples of a Prometheus text exposition, by `name{labels}`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** One node: the scripted user function, sharding over memory storage, the two entity types with their metrics on `registry`, each passivating all but its most recent entity. */
async function start(t: Test) {
  const { uf, client, plugin, sharding, model } = await startParts(t);
  const registry = new Registry();
  const metrics = new EntityMetrics(registry);
  const typeOf = (serviceName: string, behavior: (o: EntitySupportOptions) => EntityBehavior<EntityCommand, UserFunctionReply>) => {
    const service = model.services.get(serviceName)!;
    const support = { service, client, scheduler: systemScheduler, logger: silentLogger, relayTimeoutMs: 5_000, metrics };
    const type = sharding.init<EntityCommand, UserFunctionReply>({
      typeName: service.persistenceId!,
      behavior: behavior(support),
      numberOfShards: 10,
      passivation: () => lru({ limit: 1 }),
      serializer: entityMessageSerializer,
    });
    return (entityId: string) => type.entityRef(entityId).ask({ name: 'Cmd', payload: { type_url: 'type.googleapis.com/t.Key', value: key(entityId) } });
  };
  return {
    uf,
    plugin,
    eventSourced: typeOf('t.Es', eventSourcedBehavior),
    valueEntity: typeOf('t.Ve', valueEntityBehavior),
    scrape: async () => samples(await registry.metrics()),
    registry,
  };
}

/** Reads the init and the command of a new stream. */
async function opened(conn: Connection): Promise<void> {
  await conn.expect();
  await conn.expect();
}

/** Asserts the samples `name{entity_name="<entity>"}` of `expected`; for times (`…_seconds`), the count exactly and a sum ≥ 0. */
function assertSeries(t: Test, scraped: Map<string, number>, prefix: string, entity: string, expected: Record<string, number>) {
  for (const [name, value] of Object.entries(expected)) {
    const series = (suffix: string) => `${prefix}_${name}${suffix}{entity_name="${entity}"}`;
    if (name.endsWith('_seconds')) {
      t.equal(scraped.get(series('_count')), value, `${prefix}_${name}_count`);
      t.ok(scraped.get(series('_sum'))! >= 0, `${prefix}_${name}_sum ≥ 0`);
    } else {
      t.equal(scraped.get(series('')), value, `${prefix}_${name}`);
    }
  }
}

t.test('event-sourced entities: cloudstate_eventsourced_* by entity_name', async (t) => {
  const node = await start(t);
  const events = [event('one'), event('x'.repeat(200)), event('three'), event('four')];
  const snapshot = state('after three');

  const first = node.eventSourced('a');
  const a = await node.uf.eventSourced.next();
  await opened(a);
  a.send(replyTo(1, { events: events.slice(0, 2) }));
  await first;
  const second = node.eventSourced('a');
  await a.expect();
  a.send(replyTo(2, { events: [events[2]], snapshot }));
  await second;
  const failing = node.eventSourced('a');
  await a.expect();
  a.send(failureTo(3));
  t.ok((await failing).client_action?.failure, 'the user function failed the third command');
  const fourth = node.eventSourced('a');
  await a.expect();
  a.send(replyTo(4, { events: [events[3]] }));
  await fourth;

  // A command to b passivates a (one active entity per type).
  const toB = node.eventSourced('b');
  const b = await node.uf.eventSourced.next();
  await opened(b);
  b.send(replyTo(1));
  await toB;
  await a.closed;
  // Back to a (b passivated): recovered from the snapshot and the event after it.
  const again = node.eventSourced('a');
  const a2 = await node.uf.eventSourced.next();
  t.match(await a2.expect(), { init: { snapshot: { snapshot_sequence: 3 } } });
  t.match(await a2.expect(), { event: { sequence: 4 } });
  await a2.expect();
  a2.send(replyTo(1));
  await again;
  await b.closed;

  const scraped = await node.scrape();
  assertSeries(t, scraped, 'cloudstate_eventsourced', 'es', {
    activated_entities_total: 3,
    passivated_entities_total: 2,
    entity_active_time_seconds: 2,
    failed_entities_total: 0,
    recovery_time_seconds: 3,
    received_commands_total: 6,
    command_processing_time_seconds: 6,
    failed_commands_total: 1,
    completed_commands_total: 6,
    command_total_time_seconds: 6,
    persist_time_seconds: 3,
    persisted_events_total: 4,
    persisted_event_bytes_total: events.map(sizeOf).reduce((x, y) => x + y),
    persisted_snapshots_total: 1,
    persisted_snapshot_bytes_total: sizeOf(snapshot),
    loaded_snapshots_total: 1,
    loaded_snapshot_bytes_total: sizeOf(snapshot),
    loaded_events_total: 1,
    loaded_event_bytes_total: sizeOf(events[3]!),
  });
  const text = await node.registry.metrics();
  t.match(text, '# TYPE cloudstate_eventsourced_activated_entities_total counter');
  t.match(text, '# TYPE cloudstate_eventsourced_command_processing_time_seconds histogram');
  t.match(text, 'cloudstate_eventsourced_command_processing_time_seconds_bucket{le="0.075",entity_name="es"}', "the reference's buckets");
  t.match(text, '# TYPE cloudstate_eventsourced_entity_active_time_seconds summary');
  t.match(text, 'cloudstate_eventsourced_entity_active_time_seconds{quantile="0.99",entity_name="es"}');
});

t.test('value entities: cloudstate_valuebased_* by entity_name', async (t) => {
  const node = await start(t);
  const first = node.valueEntity('v');
  const v = await node.uf.valueEntity.next();
  await opened(v);
  const s1 = state('one');
  v.send(replyTo(1, { state_action: { update: { value: s1 } } }));
  await first;
  const failing = node.valueEntity('v');
  await v.expect();
  v.send(failureTo(2));
  t.ok((await failing).client_action?.failure, 'the user function failed the second command');
  const crashing = node.valueEntity('v');
  await v.expect();
  v.send(replyTo(99));
  t.equal((await crashing).client_action?.failure?.description, 'Unexpected Value entity failure', 'a reply to another command crashes the entity');
  await v.closed;
  const deleting = node.valueEntity('v');
  const v2 = await node.uf.valueEntity.next();
  t.match(await v2.expect(), { init: { state: { value: { type_url: s1.type_url } } } }, 'recovered with the state stored');
  await v2.expect();
  v2.send(replyTo(1, { state_action: { delete: {} } }));
  await deleting;

  // A command to w passivates v.
  const toW = node.valueEntity('w');
  const w = await node.uf.valueEntity.next();
  await opened(w);
  w.send(replyTo(1));
  await toW;
  await v2.closed;
  // v cannot be read: its recovery fails (and w is passivated).
  const kv = node.plugin.keyValueStore;
  const get = kv.get.bind(kv);
  kv.get = () => Promise.reject(new Error('store unreachable'));
  t.teardown(() => {
    kv.get = get;
  });
  await t.rejects(node.valueEntity('v'), 'the command fails with the recovery');
  kv.get = get;
  const last = node.valueEntity('v');
  const v3 = await node.uf.valueEntity.next();
  await opened(v3);
  const s2 = state('two, longer');
  v3.send(replyTo(1, { state_action: { update: { value: s2 } } }));
  await last;
  await w.closed;

  const scraped = await node.scrape();
  assertSeries(t, scraped, 'cloudstate_valuebased', 've', {
    activated_entities_total: 4,
    passivated_entities_total: 3,
    entity_active_time_seconds: 3,
    failed_entities_total: 1,
    recovery_time_seconds: 4,
    recovery_failed_total: 1,
    received_commands_total: 6,
    command_processing_time_seconds: 6,
    failed_commands_total: 2,
    completed_commands_total: 6,
    command_total_time_seconds: 6,
    persist_time_seconds: 2,
    persist_failed_total: 0,
    persisted_states_total: 2,
    persisted_state_bytes_total: sizeOf(s1) + sizeOf(s2),
    loaded_state_total: 1,
    loaded_state_bytes_total: sizeOf(s1),
    delete_time_seconds: 1,
    delete_failed_total: 0,
  });
});

t.test('a store failure counts as a failed persist and a failed entity', async (t) => {
  const node = await start(t);
  const kv = node.plugin.keyValueStore;
  const call = node.valueEntity('f');
  const f = await node.uf.valueEntity.next();
  await opened(f);
  const upsert = kv.upsert.bind(kv);
  kv.upsert = () => Promise.reject(new Error('disk full'));
  t.teardown(() => {
    kv.upsert = upsert;
  });
  f.send(replyTo(1, { state_action: { update: { value: state('lost') } } }));
  t.equal((await call).client_action?.failure?.description, 'Unexpected Value entity failure');
  assertSeries(t, await node.scrape(), 'cloudstate_valuebased', 've', {
    persist_failed_total: 1,
    persisted_states_total: 0,
    persist_time_seconds: 0,
    failed_entities_total: 1,
    failed_commands_total: 1,
    completed_commands_total: 1,
  });
});
