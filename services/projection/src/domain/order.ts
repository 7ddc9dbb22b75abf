/**
 * The one order every read model breaks ties with. A read model must end in the same document
 * whatever order its events arrive in (invariant 11, and invariant 4 for statuses), so every
 * choice between two facts ("the latest consent", "the earliest status", "the last 50 windows")
 * is made by a total order on the facts themselves: the time the fact states, then its event id.
 * Arrival order never decides anything.
 */

/** When a fact happened (as its source states it, ISO-8601 UTC with milliseconds) and which one it is. */
export interface Stamp {
  readonly at: string;
  readonly eventId: string;
}

/**
 * An ISO-8601 instant in one canonical spelling (`2026-03-01T10:15:00.000Z`), so that comparing
 * the strings compares the instants; an unparseable input is kept as it is.
 */
export function canonicalTime(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(ms).toISOString();
}

/** Negative when `a` comes before `b`: earlier time first, then the smaller event id. */
export function compareStamps(a: Stamp, b: Stamp): number {
  if (a.at !== b.at) return a.at < b.at ? -1 : 1;
  if (a.eventId !== b.eventId) return a.eventId < b.eventId ? -1 : 1;
  return 0;
}

/** The earlier of two stamped facts (the current one when they are the same fact). */
export function earliest<T extends Stamp>(current: T | undefined, candidate: T): T {
  if (current === undefined) return candidate;
  return compareStamps(candidate, current) < 0 ? candidate : current;
}

/**
 * The earlier of two traced facts, as `earliest`; between two copies of one event that travelled
 * with different traces (a record published again from an outbox, in another trace), the smaller
 * trace id, so the copy seen first does not decide.
 */
export function earliestTrace<T extends Stamp & { readonly traceId: string }>(
  current: T | undefined,
  candidate: T,
): T {
  if (current === undefined) return candidate;
  const order = compareStamps(candidate, current);
  if (order !== 0) return order < 0 ? candidate : current;
  return candidate.traceId < current.traceId ? candidate : current;
}

/** The later of two stamped facts (the current one when they are the same fact). */
export function latest<T extends Stamp>(current: T | undefined, candidate: T): T {
  if (current === undefined) return candidate;
  return compareStamps(candidate, current) > 0 ? candidate : current;
}

/**
 * `list` (sorted by `compare`, unique by `idOf`) with `item` added, keeping the last `max` items
 * of the order. Returns `list` itself when nothing changes (the item is there already, or it
 * would be the first dropped): "keep the last N of the set" gives the same result in any arrival
 * order, which "drop the oldest arrival" would not.
 */
export function insertBounded<T>(
  list: readonly T[],
  item: T,
  {
    compare,
    idOf,
    max,
  }: {
    readonly compare: (a: T, b: T) => number;
    readonly idOf: (item: T) => string;
    readonly max: number;
  },
): readonly T[] {
  const id = idOf(item);
  if (list.some((existing) => idOf(existing) === id)) return list;
  let index = list.length;
  while (index > 0) {
    const before = list[index - 1];
    if (before === undefined || compare(before, item) <= 0) break;
    index--;
  }
  const next = [...list.slice(0, index), item, ...list.slice(index)];
  if (next.length <= max) return next;
  // The first of the order goes; if that is the new item, nothing changed.
  return index === 0 ? list : next.slice(next.length - max);
}

/** The smaller of two optional ISO instants. */
export function minTime(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b < a ? b : a;
}

/** The larger of two optional ISO instants. */
export function maxTime(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b > a ? b : a;
}

/** A string cut to `max` characters (hostile inputs must not grow a document without bound). */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max);
}
