/**
 * The key layout of the LevelDB plugin (pure). One database holds the journal, the tag index,
 * snapshots and values, each under a one-letter prefix. Names (persistence ids, tags, keys)
 * are length-prefixed, so the range of one id can never contain another id's keys (`a` and
 * `a!b` do not overlap), and sequence numbers are fixed-width hex, so byte order is numeric
 * order up to 2^64.
 *
 *   e␀<len>␀<persistenceId>␀<seqNr>     event record
 *   h␀<len>␀<persistenceId>             highest seqNr ever written (never goes down)
 *   t␀<len>␀<tag>␀<ordering>            tag index entry → the event's name-and-seqNr suffix
 *   m␀ordering                          the last global ordering number handed out
 *   s␀<len>␀<persistenceId>␀<seqNr>     snapshot record
 *   v␀<len>␀<key>                       key-value record
 *   b␀<len>␀<namespace>␀<key>           entry of an entry store (StoragePlugin.entryStore)
 */

const SEP = '\u0000';
const SEQ_WIDTH = 16;

/** Fixed-width hex, so that string order equals numeric order. */
export function seqKey(n: number): string {
  return n.toString(16).padStart(SEQ_WIDTH, '0');
}

export function parseSeqKey(s: string): number {
  return Number.parseInt(s, 16);
}

const name = (s: string) => `${s.length}${SEP}${s}`;

export const keys = {
  /** An entry store's key, and the range of its namespace. */
  entry: (namespace: string, key: string) => `b${SEP}${name(namespace)}${SEP}${key}`,
  entryRange: (namespace: string) => ({ gt: `b${SEP}${name(namespace)}${SEP}`, lt: `b${SEP}${name(namespace)}${SEP}\uffff` }),
  event: (id: string, seqNr: number) => `e${SEP}${name(id)}${SEP}${seqKey(seqNr)}`,
  /** First and last possible event keys of an id within [from, to]. */
  eventRange: (id: string, from: number, to: number) => ({
    gte: `e${SEP}${name(id)}${SEP}${seqKey(Math.max(0, from))}`,
    lte: `e${SEP}${name(id)}${SEP}${seqKey(Math.min(to, Number.MAX_SAFE_INTEGER))}`,
  }),
  highest: (id: string) => `h${SEP}${name(id)}`,
  tag: (tag: string, ordering: number) => `t${SEP}${name(tag)}${SEP}${seqKey(ordering)}`,
  tagRange: (tag: string, afterOrdering: number, upTo: number) => ({
    gt: `t${SEP}${name(tag)}${SEP}${seqKey(afterOrdering)}`,
    lte: `t${SEP}${name(tag)}${SEP}${seqKey(upTo)}`,
  }),
  ordering: `m${SEP}ordering`,
  snapshot: (id: string, seqNr: number) => `s${SEP}${name(id)}${SEP}${seqKey(seqNr)}`,
  snapshotRange: (id: string, from: number, to: number) => ({
    gte: `s${SEP}${name(id)}${SEP}${seqKey(Math.max(0, from))}`,
    lte: `s${SEP}${name(id)}${SEP}${seqKey(Math.min(to, Number.MAX_SAFE_INTEGER))}`,
  }),
  value: (key: string) => `v${SEP}${name(key)}`,
};

/** The seqNr at the end of an event or snapshot key. */
export function seqNrOfKey(key: string): number {
  return parseSeqKey(key.slice(key.length - SEQ_WIDTH));
}

/** What a tag index entry points at: the persistence id and seqNr of the event. */
export function tagEntryValue(id: string, seqNr: number): string {
  return `${name(id)}${SEP}${seqKey(seqNr)}`;
}

export function parseTagEntryValue(value: string): { persistenceId: string; seqNr: number } {
  const sep = value.indexOf(SEP);
  const len = Number.parseInt(value.slice(0, sep), 10);
  const persistenceId = value.slice(sep + 1, sep + 1 + len);
  return { persistenceId, seqNr: parseSeqKey(value.slice(sep + 2 + len)) };
}
