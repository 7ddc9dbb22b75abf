import type { AnyEvent } from "@parley/contracts";
import {
  decide,
  evolve,
  initialState,
  isFact,
  retain,
  stateKeyOf,
  type Fact,
  type ContactState,
  type DecideContext,
  type RetentionLimits,
} from "./decide.js";

/** A contact's persisted decider state, with the events decided but not yet known published. */
export interface StoredContact {
  readonly state: ContactState;
  readonly version: number;
  readonly outbox: readonly AnyEvent[];
}

/** One conditional write of a contact's state and outbox (see ContactStore.saveMany). */
export interface ContactWrite {
  readonly contactId: string;
  readonly state: ContactState;
  readonly outbox: readonly AnyEvent[];
  /** The version read (0: no document yet); the write lands as `expectedVersion + 1`. */
  readonly expectedVersion: number;
}

/**
 * Port: where contact state survives restarts and rebalances (MongoDB in production). Every
 * operation takes many contacts at once, so a batch of webhooks costs one round trip per step.
 */
export interface ContactStore {
  /**
   * The stored documents of these contacts; a contact without one is absent from the map, one
   * whose document cannot be read is an Error (a poison record for its webhook only).
   */
  loadMany(contactIds: readonly string[]): Promise<ReadonlyMap<string, StoredContact | Error>>;
  /**
   * Writes each state and outbox if its stored version is still `expectedVersion`, as version
   * `expectedVersion + 1`; resolves with the contacts whose write lost to another writer.
   */
  saveMany(writes: readonly ContactWrite[]): Promise<ReadonlySet<string>>;
  /** Empties each outbox once its events are published, if nothing was written meanwhile. */
  clearOutboxes(
    cleared: readonly { readonly contactId: string; readonly version: number }[],
  ): Promise<void>;
}

/** Port: appends events to their catalog topics, in order, acknowledged by all in-sync replicas. */
export type Publish = (events: readonly AnyEvent[]) => Promise<void>;

/** What the handler reports for metrics; every call is made once per fact or event. */
export interface InboundObserver {
  /** A fact was decided: `emitted` is empty for a duplicate. */
  decided(fact: Fact, emitted: readonly AnyEvent[]): void;
  /** Another writer saved the contact first; the decision is made again. */
  conflict(): void;
}

const silent: InboundObserver = { decided: () => undefined, conflict: () => undefined };

/** Another writer kept winning the optimistic race; the record is retried in place. */
export class ContactStateConflictError extends Error {
  override readonly name = "ContactStateConflictError";
  readonly retriable = true;
  constructor(readonly contactId: string) {
    // The contact id stays out of the message: it is a phone number and messages reach logs.
    super("contact state kept changing under us; will retry");
  }
}

export interface InboundHandlerOptions {
  readonly store: ContactStore;
  readonly publish: Publish;
  readonly clock: () => Date;
  readonly decideWith: Omit<DecideContext, "now">;
  readonly limits: RetentionLimits;
  readonly maxConflicts?: number;
  /**
   * Contacts whose state stays in memory between records (least recently used go first); 0
   * reads MongoDB every time. A stale entry is harmless: its write fails the version check.
   */
  readonly cacheSize?: number;
  /** Batches (load, save, publish, clear) running at once; the next one gathers meanwhile. */
  readonly batchesInFlight?: number;
  /** Contacts at most in one batch. */
  readonly maxBatchContacts?: number;
  readonly observer?: InboundObserver;
}

export interface InboundHandler {
  /** Decides and publishes the events parsed from one raw webhook; resolves once all are durable. */
  handle(parsed: readonly AnyEvent[]): Promise<void>;
}

/** One contact's facts from one webhook, waiting for (or inside) a batch. */
interface Pending {
  readonly contactId: string;
  readonly facts: readonly Fact[];
  conflicts: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Runs the decider per contact, many contacts at a time. Concurrent webhooks' contacts are
 * group-committed: while a batch is in flight the next one gathers, then it loads the state of
 * every contact not cached (one query), decides each contact's facts in order, saves each state
 * together with its outbox (the events just decided, after any a crash left unpublished) in one
 * unordered conditional bulk write, publishes all outboxes in one call, then clears them (one
 * bulk write). A contact is in at most one batch at a time (a per-contact lock, FIFO), so its
 * webhooks are decided and published in the order they were handed in. A crash anywhere re-runs
 * the raw records: before the save nothing happened; after it the outbox is published again
 * with the same event ids and the facts are recognised as seen, so nothing is lost and nothing
 * new is duplicated. A contact whose write loses the version race is decided again in a later
 * batch; the others of its batch go on.
 */
export function createInboundHandler({
  store,
  publish,
  clock,
  decideWith,
  limits,
  maxConflicts = 10,
  cacheSize = 1_000,
  batchesInFlight = 2,
  maxBatchContacts = 500,
  observer = silent,
}: InboundHandlerOptions): InboundHandler {
  for (const [name, value, min] of [
    ["cacheSize", cacheSize, 0],
    ["batchesInFlight", batchesInFlight, 1],
    ["maxBatchContacts", maxBatchContacts, 1],
  ] as const) {
    if (!Number.isInteger(value) || value < min) {
      throw new RangeError(
        `createInboundHandler: ${name} must be a whole number >= ${String(min)}, got ${String(value)}`,
      );
    }
  }
  const locks = new Map<string, Promise<void>>();
  const cache = new Map<string, StoredContact>();
  const waiting: Pending[] = [];
  let running = 0;
  let scheduled = false;

  const remember = (key: string, doc: StoredContact) => {
    if (cacheSize === 0) return;
    cache.delete(key);
    cache.set(key, doc);
    if (cache.size > cacheSize) {
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
  };

  /** One writer per contact inside this process; other processes are caught by the version. */
  const exclusive = async (contactId: string, work: () => Promise<void>): Promise<void> => {
    const previous = locks.get(contactId) ?? Promise.resolve();
    const current = previous.then(work, work);
    const settled = current.then(
      () => undefined,
      () => undefined,
    );
    locks.set(contactId, settled);
    try {
      await current;
    } finally {
      if (locks.get(contactId) === settled) locks.delete(contactId);
    }
  };

  const schedule = () => {
    if (scheduled || running >= batchesInFlight || waiting.length === 0) return;
    scheduled = true;
    // One turn of the event loop lets the webhooks arriving together join the same batch.
    setImmediate(() => {
      scheduled = false;
      while (running < batchesInFlight && waiting.length > 0) {
        const batch = waiting.splice(0, maxBatchContacts);
        running++;
        void runBatch(batch).finally(() => {
          running--;
          schedule();
        });
      }
    });
  };

  const submit = (contactId: string, facts: readonly Fact[]): Promise<void> =>
    new Promise((resolve, reject) => {
      waiting.push({ contactId, facts, conflicts: 0, resolve, reject });
      schedule();
    });

  const runBatch = async (batch: readonly Pending[]): Promise<void> => {
    /** Entries not yet resolved, rejected or sent back to wait: a failure rejects these. */
    const open = new Set(batch);
    const settle = (item: Pending, error?: unknown) => {
      open.delete(item);
      if (error === undefined) item.resolve();
      else {
        cache.delete(item.contactId);
        item.reject(error);
      }
    };
    try {
      const misses = batch.filter((item) => !cache.has(item.contactId));
      const loaded =
        misses.length > 0
          ? await store.loadMany(misses.map((item) => item.contactId))
          : new Map<string, StoredContact | Error>();
      const now = clock();
      const ctx: DecideContext = { ...decideWith, now };
      const writes: (ContactWrite & { readonly item: Pending; readonly report: () => void })[] = [];
      for (const item of batch) {
        const stored = cache.get(item.contactId) ?? loaded.get(item.contactId);
        if (stored instanceof Error) {
          settle(item, stored);
          continue;
        }
        let state = stored?.state ?? initialState(item.contactId);
        const decided: AnyEvent[] = [];
        const outcomes: [Fact, readonly AnyEvent[]][] = [];
        for (const fact of item.facts) {
          const events = decide(fact, state, ctx);
          state = events.reduce(evolve, state);
          decided.push(...events);
          outcomes.push([fact, events]);
        }
        const report = () => {
          for (const [fact, events] of outcomes) observer.decided(fact, events);
        };
        const unpublished = stored?.outbox ?? [];
        if (decided.length === 0 && unpublished.length === 0) {
          if (stored !== undefined) remember(item.contactId, stored);
          report();
          settle(item);
          continue;
        }
        writes.push({
          item,
          report,
          contactId: item.contactId,
          state: retain(state, now, limits),
          // What a crash left unpublished goes first, so the contact's order holds.
          outbox: [...unpublished, ...decided],
          expectedVersion: stored?.version ?? 0,
        });
      }
      if (writes.length === 0) return;
      const lost = await store.saveMany(writes);
      const saved = writes.filter((write) => !lost.has(write.contactId));
      for (const write of writes) {
        if (!lost.has(write.contactId)) continue;
        const { item } = write;
        cache.delete(item.contactId);
        observer.conflict();
        open.delete(item);
        if (++item.conflicts >= maxConflicts) {
          item.reject(new ContactStateConflictError(item.contactId));
        } else {
          waiting.push(item);
        }
      }
      if (saved.length === 0) return;
      await publish(saved.flatMap((write) => write.outbox));
      await store.clearOutboxes(
        saved.map((write) => ({ contactId: write.contactId, version: write.expectedVersion + 1 })),
      );
      for (const write of saved) {
        remember(write.contactId, {
          state: write.state,
          version: write.expectedVersion + 1,
          outbox: [],
        });
        write.report();
        settle(write.item);
      }
    } catch (error) {
      for (const item of [...open]) settle(item, error);
    }
  };

  return {
    async handle(parsed) {
      const byKey = new Map<string, Fact[]>();
      for (const event of parsed) {
        // The parser only produces facts; anything else is a programming error, not a retry.
        if (!isFact(event)) throw new TypeError(`the parser produced ${event.type}, not a fact`);
        const key = stateKeyOf(event);
        const list = byKey.get(key) ?? [];
        list.push(event);
        byKey.set(key, list);
      }
      await Promise.all([...byKey].map(([key, facts]) => exclusive(key, () => submit(key, facts))));
    },
  };
}
