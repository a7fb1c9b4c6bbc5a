// A durable event log in a few lines: open a store, append events, replay them.
import { Journal, openMemoryStorage } from '@cloudstate/cluster/persistence';

const storage = await openMemoryStorage(); // or openStorage({ kind: 'leveldb', directory: './data' })
const journal = new Journal(storage.journal);
const encode = (s: string) => new TextEncoder().encode(s);

// Each append states the sequence numbers it expects; storage refuses a second writer.
await journal.append({
  persistenceId: 'cart-42',
  events: [1, 2].map((seqNr) => ({
    persistenceId: 'cart-42',
    seqNr,
    payload: encode(seqNr === 1 ? 'ItemAdded:apple' : 'ItemAdded:pear'),
    manifest: 'ItemAdded',
    writerId: 'node-1',
    timestamp: Date.now(),
    tags: ['cart'],
  })),
});

for await (const event of journal.replay('cart-42')) {
  console.log(event.seqNr, new TextDecoder().decode(event.payload));
}
console.log('highest seqNr:', await journal.highestSeqNr('cart-42'));
await storage.close();
