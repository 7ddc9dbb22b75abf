import type { Document } from "mongodb";

/** The update that turns a stored document's state fields into the next ones (see deltaOf). */
export interface FieldsDelta {
  /** Fields written whole (changed scalars and objects, lists that are not a tail change). */
  readonly set: Document;
  /** Lists that only lost items at the front and gained items at the end: `$push` with `$slice`. */
  readonly push: Document;
  /** Fields no longer present. */
  readonly unset: Document;
}

/**
 * How `next` follows from `previous` when it is `previous` without some of its first items and
 * with new items at its end (items compared by reference: the decider's states share the items
 * they keep): the new items, and the length to keep. Undefined when it does not (write it whole).
 */
export function tailOf(
  previous: readonly unknown[],
  next: readonly unknown[],
): { readonly added: unknown[]; readonly keep: number } | undefined {
  if (next.length === 0) return undefined;
  const first = previous.indexOf(next[0]);
  const start = first === -1 ? previous.length : first;
  const kept = previous.length - start;
  if (kept > next.length) return undefined;
  for (let i = 0; i < kept; i++) if (next[i] !== previous[start + i]) return undefined;
  // previous ++ added, its last `next.length` items: exactly next.
  return { added: next.slice(kept), keep: next.length };
}

/**
 * What changed from the fields stored (`previous`) to the fields to store (`next`): a list that
 * kept a run of its items and appended others becomes `$push: { $each: added, $slice: -length }`
 * (MongoDB appends, then keeps the last `length`: the same list); a field that is the same value
 * (by reference) is left out; any other field is `$set` whole, a field gone is `$unset`. Applied
 * to a document whose fields are `previous`, the update leaves exactly `next`.
 */
export function deltaOf(previous: Document, next: Document): FieldsDelta {
  const set: Document = {};
  const push: Document = {};
  const unset: Document = {};
  for (const name of Object.keys(next)) {
    const before: unknown = previous[name];
    const after: unknown = next[name];
    if (after === before && name in previous) continue;
    if (Array.isArray(before) && Array.isArray(after)) {
      const tail = tailOf(before, after);
      if (tail !== undefined) {
        if (tail.added.length === 0 && tail.keep === before.length) continue;
        push[name] = { $each: tail.added, $slice: -tail.keep };
        continue;
      }
    }
    set[name] = after;
  }
  for (const name of Object.keys(previous)) if (!(name in next)) unset[name] = "";
  return { set, push, unset };
}

/** The last fields each key was read or written with, at their version and write id (bounded). */
export interface RememberedFields {
  get(
    key: string,
  ): { readonly version: number; readonly writeId: string; readonly fields: Document } | undefined;
  set(key: string, version: number, writeId: string, fields: Document): void;
  delete(key: string): void;
}

/** Keeps at most `capacity` keys, the least recently written or read going first (0: none). */
export function rememberFields(capacity: number): RememberedFields {
  const entries = new Map<string, { version: number; writeId: string; fields: Document }>();
  return {
    get: (key) => entries.get(key),
    set(key, version, writeId, fields) {
      if (capacity === 0) return;
      entries.delete(key);
      entries.set(key, { version, writeId, fields });
      if (entries.size > capacity) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
    },
    delete: (key) => {
      entries.delete(key);
    },
  };
}
