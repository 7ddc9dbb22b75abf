import { UnstorableStateError } from "./errors.js";
import { exceedsNesting, MAX_DOCUMENT_NESTING, type StateStore, type Stored } from "./store.js";

/** A key's record as the in-memory store keeps it. */
export interface MemoryRecord<State, Output> {
  readonly state: State;
  readonly version: number;
  readonly outbox: readonly Output[];
  /** The highest version marked published (0: none). */
  readonly publishedVersion: number;
}

export interface MemoryStateStore<State, Output> extends StateStore<State, Output> {
  /** The record as stored, for assertions (a copy). */
  peek(key: string): MemoryRecord<State, Output> | undefined;
  /** Every key with a record. */
  keys(): string[];
}

export interface MemoryStateStoreOptions {
  /** Refuses a state or outbox nested deeper than this, as MongoDB does (see exceedsNesting). */
  readonly maxDepth?: number;
}

/**
 * The in-memory StateStore (the fake): the MongoDB adapter's semantics without a server, kept
 * equal by the shared contract suite (`describeStateStore` in @parley/testkit). Records are
 * copied in and out (structuredClone), so a caller's later mutation cannot reach what is stored.
 */
export function createMemoryStateStore<State, Output>({
  maxDepth = MAX_DOCUMENT_NESTING,
}: MemoryStateStoreOptions = {}): MemoryStateStore<State, Output> {
  if (!Number.isInteger(maxDepth) || maxDepth < 2) {
    throw new RangeError(
      `createMemoryStateStore: maxDepth must be a whole number >= 2, got ${maxDepth}`,
    );
  }
  const records = new Map<string, MemoryRecord<State, Output>>();

  const view = (record: MemoryRecord<State, Output>): Stored<State, Output> => ({
    state: structuredClone(record.state),
    version: record.version,
    outbox: record.publishedVersion >= record.version ? [] : structuredClone(record.outbox),
  });

  return {
    loadMany(keys) {
      const found = new Map<string, Stored<State, Output> | Error>();
      for (const key of keys) {
        const record = records.get(key);
        if (record !== undefined) found.set(key, view(record));
      }
      return Promise.resolve(found);
    },

    saveMany(writes) {
      // The whole call is refused before anything is written, as the MongoDB adapter does.
      for (const { key, state, outbox } of writes) {
        // The state's fields sit at the top of the document, the outbox one level down.
        if (exceedsNesting(state, maxDepth) || exceedsNesting(outbox, maxDepth - 1)) {
          return Promise.reject(
            new UnstorableStateError(key, `nested deeper than ${maxDepth} levels`, { maxDepth }),
          );
        }
      }
      const lost = new Set<string>();
      for (const { key, state, outbox, expectedVersion } of writes) {
        const current = records.get(key);
        if ((current?.version ?? 0) !== expectedVersion) {
          lost.add(key);
          continue;
        }
        records.set(key, {
          state: structuredClone(state),
          outbox: structuredClone(outbox),
          version: expectedVersion + 1,
          publishedVersion: current?.publishedVersion ?? 0,
        });
      }
      return Promise.resolve(lost);
    },

    markPublished(marks) {
      for (const { key, version } of marks) {
        const record = records.get(key);
        if (record !== undefined && version > record.publishedVersion) {
          records.set(key, { ...record, publishedVersion: version });
        }
      }
      return Promise.resolve();
    },

    peek(key) {
      const record = records.get(key);
      return record === undefined ? undefined : structuredClone(record);
    },

    keys: () => [...records.keys()],
  };
}
