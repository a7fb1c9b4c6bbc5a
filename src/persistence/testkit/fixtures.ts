/**
 * Builders for the conformance kit: events with recognisable payloads, and ids that do not
 * collide between cases or runs (the kit shares one database across its cases).
 */
import { randomBytes } from 'node:crypto';
import type { AtomicWrite, PersistentRepr } from '../spi/index.js';

/** A prefix unique to this process run, so reruns against a kept database do not collide. */
export const runId = randomBytes(4).toString('hex');

let counter = 0;
/** A persistence id no other case uses. */
export function uniqueId(label: string): string {
  return `${label}-${runId}-${++counter}`;
}

/** The payload the kit writes for (id, seqNr): its bytes tell where they came from. */
export function payloadFor(persistenceId: string, seqNr: number): Uint8Array {
  return new TextEncoder().encode(`${persistenceId}#${seqNr}`);
}

export interface EventSpec {
  writerId?: string;
  tags?: string[];
  manifest?: string;
  payload?: Uint8Array;
  timestamp?: number;
}

export function event(persistenceId: string, seqNr: number, spec: EventSpec = {}): PersistentRepr {
  return {
    persistenceId,
    seqNr,
    payload: spec.payload ?? payloadFor(persistenceId, seqNr),
    manifest: spec.manifest ?? 'test.Event',
    writerId: spec.writerId ?? 'writer-1',
    timestamp: spec.timestamp ?? 1_700_000_000_000 + seqNr,
    tags: spec.tags ?? [],
  };
}

/** One atomic write of `count` events starting at `fromSeqNr`. */
export function write(persistenceId: string, fromSeqNr: number, count = 1, spec: EventSpec = {}): AtomicWrite {
  return { persistenceId, events: Array.from({ length: count }, (_, i) => event(persistenceId, fromSeqNr + i, spec)) };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

export function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
