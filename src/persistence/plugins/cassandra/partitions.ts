/**
 * Where journal rows live in Cassandra (pure). Rows are partitioned by (persistence id,
 * partition number) so one busy entity never grows an unbounded partition. All events of one
 * atomic write go to the partition of its first seqNr, which keeps the write inside one
 * partition (atomic and isolated in Cassandra); since a write holds at most
 * `maxEventsPerWrite` events and partitions hold `partitionSize` seqNrs (at least as many),
 * an event lives in the partition its seqNr points to or the one before.
 */

/** The partition of a write whose first event has `firstSeqNr`. */
export function partitionOf(firstSeqNr: number, partitionSize: number): number {
  return Math.floor((Math.max(1, firstSeqNr) - 1) / partitionSize);
}

/** The partitions a replay of seqNrs [from, to] must read, first and last inclusive. */
export function partitionsToScan(fromSeqNr: number, toSeqNr: number, partitionSize: number): { first: number; last: number } {
  const first = Math.max(0, partitionOf(fromSeqNr, partitionSize) - 1);
  return { first, last: Math.max(first, partitionOf(toSeqNr, partitionSize)) };
}

/** Checks the options that the rules above depend on. */
export function checkPartitionSize(partitionSize: number, maxEventsPerWrite: number): number {
  if (!Number.isInteger(partitionSize) || partitionSize < maxEventsPerWrite) {
    throw new RangeError(`partitionSize must be an integer of at least ${maxEventsPerWrite} (the most events in one atomic write), got ${partitionSize}`);
  }
  return partitionSize;
}
