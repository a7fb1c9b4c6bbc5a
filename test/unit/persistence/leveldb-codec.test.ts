import t from 'tap';
import { decodeEvent, decodeSnapshot, decodeValue, encodeEvent, encodeSnapshot, encodeValue } from '../../../src/persistence/plugins/leveldb/codec.js';
import { keys, parseTagEntryValue, seqKey, seqNrOfKey, tagEntryValue } from '../../../src/persistence/plugins/leveldb/keys.js';

t.test('seqNr keys sort numerically up to 2^53', async (t) => {
  const ns = [0, 1, 9, 10, 15, 16, 255, 256, 1_000_000, 2 ** 32, 2 ** 53 - 1];
  const sorted = ns.map(seqKey).sort();
  t.same(sorted.map((k) => Number.parseInt(k, 16)), ns);
  for (const n of ns) t.equal(seqNrOfKey(keys.event('x', n)), n);
});

t.test('the range of one persistence id never holds another id', async (t) => {
  const ids = ['a', 'a!b', 'a\u0000', 'a\u00001', 'ab', '1\u0000a', 'ñ', ''];
  for (const id of ids) {
    const { gte, lte } = keys.eventRange(id, 1, Number.MAX_SAFE_INTEGER);
    for (const other of ids) {
      if (other === id) continue;
      for (const seq of [1, 2, 1000]) {
        const k = keys.event(other, seq);
        t.notOk(k >= gte && k <= lte, `${JSON.stringify(other)}#${seq} outside the range of ${JSON.stringify(id)}`);
      }
    }
  }
  t.same(parseTagEntryValue(tagEntryValue('a\u0000b', 42)), { persistenceId: 'a\u0000b', seqNr: 42 });
});

t.test('records round-trip and damage is detected', async (t) => {
  const event = { timestamp: 1_700_000_000_123, ordering: 7, writerId: 'w', manifest: 'm.Ü', tags: ['x', 'y'], payload: Uint8Array.of(0, 1, 255) };
  const record = encodeEvent(event);
  const back = decodeEvent(record);
  t.same({ ...back, payload: Array.from(back.payload) }, { ...event, payload: [0, 1, 255] });
  const flipped = Buffer.from(record);
  flipped[flipped.length - 1]! ^= 1;
  t.throws(() => decodeEvent(flipped), /checksum/);
  t.throws(() => decodeEvent(record.subarray(0, 3)), /too short/);
  t.throws(() => decodeEvent(Buffer.from('not a record at all')), /checksum/);
  const snap = decodeSnapshot(encodeSnapshot(5, 'S', Uint8Array.of(9)));
  t.same([snap.timestamp, snap.manifest, Array.from(snap.payload)], [5, 'S', [9]]);
  const value = decodeValue(encodeValue(3, '', new Uint8Array(0)));
  t.same([value.revision, value.manifest, value.payload.byteLength], [3, '', 0]);
});
