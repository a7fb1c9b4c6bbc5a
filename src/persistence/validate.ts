/**
 * Pure checks that turn bad writes into rejections before they reach storage. A rejected
 * write stores nothing and does not disturb the writes around it.
 */
import type { AtomicWrite } from './spi/journal.js';

/** Why the write cannot be stored, or undefined when it is well formed. */
export function invalidWriteReason(write: AtomicWrite, maxPayloadBytes: number, maxEventsPerWrite: number): string | undefined {
  const { persistenceId, events } = write;
  if (typeof persistenceId !== 'string' || persistenceId.length === 0) return 'persistenceId must be a non-empty string';
  if (persistenceId.length > 1024) return `persistenceId is ${persistenceId.length} characters, more than 1024`;
  if (events.length === 0) return 'an atomic write needs at least one event';
  if (events.length > maxEventsPerWrite) return `${events.length} events in one atomic write, more than ${maxEventsPerWrite}`;
  let expected = events[0]!.seqNr;
  if (!Number.isSafeInteger(expected) || expected < 1) return `seqNr ${expected} is not a positive integer`;
  for (const e of events) {
    if (e.persistenceId !== persistenceId) return `event for ${e.persistenceId} inside a write for ${persistenceId}`;
    if (e.seqNr !== expected) return `seqNr ${e.seqNr} where ${expected} was due (sequence numbers must be consecutive)`;
    if (!(e.payload instanceof Uint8Array)) return `payload of seqNr ${e.seqNr} is not bytes`;
    if (e.payload.byteLength > maxPayloadBytes) return `payload of seqNr ${e.seqNr} is ${e.payload.byteLength} bytes, more than ${maxPayloadBytes}`;
    if (typeof e.manifest !== 'string' || typeof e.writerId !== 'string') return `manifest and writerId of seqNr ${e.seqNr} must be strings`;
    if (!Number.isFinite(e.timestamp)) return `timestamp of seqNr ${e.seqNr} is not a number`;
    if (!Array.isArray(e.tags) || e.tags.some((t) => typeof t !== 'string' || t.length === 0)) return `tags of seqNr ${e.seqNr} must be non-empty strings`;
    expected++;
  }
  return undefined;
}

/** Approximate stored size of a write, for bounding a batch. */
export function writeBytes(write: AtomicWrite): number {
  let n = 0;
  for (const e of write.events) n += e.payload.byteLength + e.manifest.length + 64;
  return n;
}
