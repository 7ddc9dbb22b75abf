/** One key's persisted state, with the outputs decided but not yet known published. */
export interface Stored<State, Output> {
  readonly state: State;
  /** 1 after the first write, one more per write. */
  readonly version: number;
  /** Decided, saved, not yet marked published: published first next time, same events. */
  readonly outbox: readonly Output[];
}

/** One conditional write of a key's state and outbox (see StateStore.saveMany). */
export interface StateWrite<State, Output> {
  readonly key: string;
  readonly state: State;
  readonly outbox: readonly Output[];
  /** The version read (0: nothing stored yet); the write lands as `expectedVersion + 1`. */
  readonly expectedVersion: number;
}

/** A saved version whose outbox has been published. */
export interface PublishedMark {
  readonly key: string;
  readonly version: number;
}

/**
 * Port: where each key's state and outbox survive restarts and rebalances (MongoDB in
 * production, `createMemoryStateStore` in unit tests). Every operation takes many keys at once, so
 * a batch costs one round trip per step. Failures are thrown as errors whose retry decision
 * (`retryOf` of @parley/errors) says whether the store was unavailable (`outage`) or refused this
 * input (`never`, e.g. a document nested too deep: UnstorableStateError naming the key).
 */
export interface StateStore<State, Output> {
  /**
   * The stored state of each key; a key with nothing stored is absent from the map, one whose
   * document cannot be read is an Error (a poison input for that key's caller only). An outbox
   * already marked published is returned empty.
   */
  loadMany(keys: readonly string[]): Promise<ReadonlyMap<string, Stored<State, Output> | Error>>;
  /**
   * Writes each state and outbox if its stored version is still `expectedVersion`, as version
   * `expectedVersion + 1`; resolves with the keys whose write lost to another writer. A write
   * that landed but cannot be told from a lost one may be reported lost: the caller decides
   * again on the stored state, where the decider recognises its own command.
   */
  saveMany(writes: readonly StateWrite<State, Output>[]): Promise<ReadonlySet<string>>;
  /**
   * Records that the outbox written as `version` is published. A mark of an older version never
   * hides a newer outbox, and a later write brings its own outbox back into view.
   */
  markPublished(marks: readonly PublishedMark[]): Promise<void>;
}

/** Port: appends events to their topics, in the order given per key, acknowledged durably. */
export type Publish<Output> = (events: readonly Output[]) => Promise<void>;

/** MongoDB refuses a document nested deeper than this (each object or array adds a level). */
export const MAX_DOCUMENT_NESTING = 100;

/** Whether BSON would write `value` as an embedded document or array (a level of nesting). */
const isContainer = (value: unknown): value is object => {
  if (typeof value !== "object" || value === null) return false;
  if (value instanceof Date || value instanceof RegExp || value instanceof ArrayBuffer)
    return false;
  if (ArrayBuffer.isView(value)) return false; // Buffer, typed arrays: binary
  return !("_bsontype" in value); // ObjectId, Long, Decimal128, Binary...: BSON values
};

/**
 * Whether `value` nests objects and arrays deeper than `maxDepth` levels (a top-level object is
 * level 1; dates, binaries and BSON values are leaves, as BSON writes them). Iterative and stops at the
 * first path past the limit, so a hostile payload 10,000 levels deep (or a cycle) costs no stack.
 * The one definition of the rule: the MongoDB adapter and the in-memory store both refuse with it.
 */
export function exceedsNesting(value: unknown, maxDepth: number): boolean {
  // Two parallel stacks (no tuple per container) and `for...in` over plain objects (no array of
  // their values): this runs over every document every save, and its garbage was measured.
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const current = values.pop();
    const depth = depths.pop() ?? 1;
    if (!isContainer(current)) continue;
    if (depth > maxDepth) return true;
    if (current instanceof Map || Array.isArray(current)) {
      for (const child of current instanceof Map ? current.values() : (current as unknown[])) {
        if (isContainer(child)) {
          values.push(child);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    const record = current as Record<string, unknown>;
    for (const name in record) {
      if (!Object.prototype.hasOwnProperty.call(record, name)) continue;
      const child = record[name];
      if (isContainer(child)) {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
