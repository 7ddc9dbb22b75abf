import type { AnyEvent } from "@parley/contracts";
import { ParleyError, retryOf } from "@parley/errors";
import {
  decide,
  evolve,
  forget,
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
   * `expectedVersion + 1`; resolves with the contacts whose write lost to another writer. Rejects
   * with a retry decision: `outage` while the store is unavailable, `never` for a write it can
   * never take (the handler then saves the contacts one by one, so only that one fails).
   */
  saveMany(writes: readonly ContactWrite[]): Promise<ReadonlySet<string>>;
  /** Empties each outbox once its events are published, if nothing was written meanwhile. */
  clearOutboxes(
    cleared: readonly { readonly contactId: string; readonly version: number }[],
  ): Promise<void>;
}

/**
 * Port: appends one contact's events to their catalog topics, in order, acknowledged by all
 * in-sync replicas. Rejects with a retry decision: `never` when an event can never be produced
 * (too large for its topic, not its contract), `outage` when the broker cannot take it now.
 */
export type Publish = (events: readonly AnyEvent[]) => Promise<void>;

/** What the handler reports for metrics; every call is made once per fact or event. */
export interface InboundObserver {
  /** A fact was decided: `emitted` is empty for a duplicate. */
  decided(fact: Fact, emitted: readonly AnyEvent[]): void;
  /** Another writer saved the contact first; the decision is made again. */
  conflict(): void;
}

const silent: InboundObserver = { decided: () => undefined, conflict: () => undefined };

/** Another writer kept winning the optimistic race; the record is retried a few times. */
export class ContactStateConflictError extends ParleyError {
  override readonly name = "ContactStateConflictError";
  constructor(readonly contactId: string) {
    // The contact id stays out of the message: it is a phone number and messages reach logs.
    super("contact state kept changing under us; will retry", { retry: "bounded" });
  }
}

/**
 * Events of this webhook that can never be produced (too large for their topic, not their
 * contract): they were dropped from the contact's outbox, and their facts forgotten, so that the
 * contact's later webhooks go on and a re-drive of this one (after a fix) decides them again.
 */
export class EventNotPublishedError extends ParleyError {
  override readonly name = "EventNotPublishedError";
  constructor(dropped: readonly Dropped[]) {
    const what = dropped.map(({ event, error }) => {
      const wamid =
        "wamid" in event.data && typeof event.data.wamid === "string"
          ? ` (wamid ${event.data.wamid})`
          : "";
      return `${event.type} ${event.eventId}${wamid}: ${error instanceof Error ? error.message : String(error)}`;
    });
    super(
      `${String(dropped.length)} event${dropped.length === 1 ? "" : "s"} of this webhook could not be produced and left the contact's outbox (the raw webhook keeps them; a re-drive decides them again): ${what.join("; ")}`,
      {
        retry: "never",
        context: { eventIds: dropped.map((d) => d.event.eventId) },
      },
    );
  }
}

interface Dropped {
  readonly event: AnyEvent;
  readonly error: unknown;
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

  /**
   * One bulk write; when the store refuses it for good (a document it can never take), each
   * contact is written on its own so that only the poison one fails (`failed`).
   */
  const saveAll = async (
    writes: readonly ContactWrite[],
  ): Promise<{ lost: ReadonlySet<string>; failed: ReadonlyMap<string, unknown> }> => {
    try {
      return { lost: await store.saveMany(writes), failed: new Map() };
    } catch (error) {
      if (writes.length === 1 || retryOf(error) !== "never") throw error;
      const lost = new Set<string>();
      const failed = new Map<string, unknown>();
      await Promise.all(
        writes.map(async (write) => {
          try {
            for (const id of await store.saveMany([write])) lost.add(id);
          } catch (alone) {
            if (retryOf(alone) !== "never") throw alone;
            failed.set(write.contactId, alone);
          }
        }),
      );
      return { lost, failed };
    }
  };

  /**
   * Publishes one contact's outbox; resolves with the events that can never be produced (after
   * publishing the others one by one, in order), or rejects when the broker is unavailable.
   */
  const publishOutbox = async (outbox: readonly AnyEvent[]): Promise<readonly Dropped[]> => {
    try {
      await publish(outbox);
      return [];
    } catch (error) {
      if (retryOf(error) !== "never") throw error;
      if (outbox.length === 1 && outbox[0] !== undefined) return [{ event: outbox[0], error }];
    }
    const dropped: Dropped[] = [];
    for (const event of outbox) {
      try {
        await publish([event]);
      } catch (error) {
        if (retryOf(error) !== "never") throw error;
        dropped.push({ event, error });
      }
    }
    return dropped;
  };

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
      const { lost, failed } = await saveAll(writes);
      for (const write of writes) {
        const error = failed.get(write.contactId);
        if (error !== undefined) settle(write.item, error);
      }
      const saved = writes.filter((w) => !lost.has(w.contactId) && !failed.has(w.contactId));
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
      // Each contact's outbox on its own: one contact's failure leaves the others' alone.
      const published = await Promise.allSettled(saved.map((write) => publishOutbox(write.outbox)));
      const clean: typeof saved = [];
      const poisoned: { write: (typeof saved)[number]; dropped: readonly Dropped[] }[] = [];
      saved.forEach((write, i) => {
        const result = published[i];
        if (result?.status === "rejected") settle(write.item, result.reason);
        else if (result?.value.length === 0) clean.push(write);
        else if (result !== undefined) poisoned.push({ write, dropped: result.value });
      });
      if (clean.length > 0) {
        await store.clearOutboxes(
          clean.map((write) => ({
            contactId: write.contactId,
            version: write.expectedVersion + 1,
          })),
        );
      }
      for (const write of clean) {
        remember(write.contactId, {
          state: write.state,
          version: write.expectedVersion + 1,
          outbox: [],
        });
        write.report();
        settle(write.item);
      }
      if (poisoned.length === 0) return;
      // What could never be produced leaves the outbox, and its facts are forgotten: written as
      // the next version with an empty outbox, which also marks the rest as published.
      const forgotten = poisoned.map(({ write, dropped }) => ({
        contactId: write.contactId,
        state: forget(write.state, factsOf(dropped, write.outbox)),
        outbox: [],
        expectedVersion: write.expectedVersion + 1,
      }));
      const raced = await store.saveMany(forgotten);
      for (const [i, { write, dropped }] of poisoned.entries()) {
        const next = forgotten[i];
        if (next === undefined || raced.has(write.contactId)) cache.delete(write.contactId);
        else
          remember(write.contactId, {
            state: next.state,
            version: next.expectedVersion + 1,
            outbox: [],
          });
        write.report();
        settle(write.item, new EventNotPublishedError(dropped));
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
      const results = await Promise.allSettled(
        [...byKey].map(([key, facts]) => exclusive(key, () => submit(key, facts))),
      );
      // Every contact has had its turn; the webhook then fails with the failure that asks most
      // of the caller: an outage is waited out (and the rest decided again, as duplicates),
      // before a bounded retry, before a dead letter.
      const failures = results.flatMap((r) =>
        r.status === "rejected" ? [r.reason as unknown] : [],
      );
      const first = (kind: string) => failures.find((f) => retryOf(f) === kind);
      const failure = first("outage") ?? first("bounded") ?? failures[0];
      if (failure === undefined) return;
      throw failure instanceof Error
        ? failure
        : new Error("a contact's handling failed", { cause: failure });
    },
  };
}

/** The facts behind dropped events: the event itself when it is a fact, else the fact that caused it. */
function factsOf(dropped: readonly Dropped[], outbox: readonly AnyEvent[]): Fact[] {
  const facts: Fact[] = [];
  for (const { event } of dropped) {
    const fact = isFact(event)
      ? event
      : outbox.find((e): e is Fact => isFact(e) && e.eventId === event.causationId);
    if (fact !== undefined) facts.push(fact);
  }
  return facts;
}
