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

/** Port: where contact state survives restarts and rebalances (MongoDB in production). */
export interface ContactStore {
  load(contactId: string): Promise<StoredContact | undefined>;
  /**
   * Writes state and outbox if the stored version is still `expectedVersion` (0: no document
   * yet), as version `expectedVersion + 1`; false when someone else wrote first.
   */
  save(
    contactId: string,
    next: { readonly state: ContactState; readonly outbox: readonly AnyEvent[] },
    expectedVersion: number,
  ): Promise<boolean>;
  /** Empties the outbox once its events are published, if nothing was written meanwhile. */
  clearOutbox(contactId: string, version: number): Promise<void>;
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
  readonly observer?: InboundObserver;
}

export interface InboundHandler {
  /** Decides and publishes the events parsed from one raw webhook; resolves once all are durable. */
  handle(parsed: readonly AnyEvent[]): Promise<void>;
}

/**
 * Runs the decider per contact: load the state, flush any outbox a crash left behind, decide
 * every fact of this webhook in order, save state and the decided events together (optimistic
 * version check), publish, then clear the outbox. A crash anywhere re-runs the raw record: before
 * the save nothing happened; after it the outbox is flushed with the same event ids and the facts
 * are recognised as seen, so nothing is lost and nothing new is duplicated.
 */
export function createInboundHandler({
  store,
  publish,
  clock,
  decideWith,
  limits,
  maxConflicts = 10,
  cacheSize = 1_000,
  observer = silent,
}: InboundHandlerOptions): InboundHandler {
  if (!Number.isInteger(cacheSize) || cacheSize < 0) {
    throw new RangeError(
      `createInboundHandler: cacheSize must be a whole number >= 0, got ${cacheSize}`,
    );
  }
  const locks = new Map<string, Promise<void>>();
  const cache = new Map<string, StoredContact>();

  const load = async (key: string): Promise<StoredContact | undefined> => {
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    return store.load(key);
  };
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

  const handleContact = async (contactId: string, facts: readonly Fact[]) => {
    try {
      await decideAndPublish(contactId, facts);
    } catch (error) {
      cache.delete(contactId);
      throw error;
    }
  };

  const decideAndPublish = async (contactId: string, facts: readonly Fact[]) => {
    for (let attempt = 0; attempt < maxConflicts; attempt++) {
      const stored = await load(contactId);
      const version = stored?.version ?? 0;
      if (stored !== undefined && stored.outbox.length > 0) {
        await publish(stored.outbox);
      }
      const now = clock();
      const ctx: DecideContext = { ...decideWith, now };
      let state = stored?.state ?? initialState(contactId);
      const decided: AnyEvent[] = [];
      const outcomes: [Fact, readonly AnyEvent[]][] = [];
      for (const fact of facts) {
        const events = decide(fact, state, ctx);
        state = events.reduce(evolve, state);
        decided.push(...events);
        outcomes.push([fact, events]);
      }
      const report = () => {
        for (const [fact, events] of outcomes) observer.decided(fact, events);
      };
      if (decided.length === 0 && (stored?.outbox.length ?? 0) === 0) {
        if (stored !== undefined) remember(contactId, stored);
        report();
        return;
      }
      const next = retain(state, now, limits);
      if (!(await store.save(contactId, { state: next, outbox: decided }, version))) {
        cache.delete(contactId);
        observer.conflict();
        continue;
      }
      await publish(decided);
      await store.clearOutbox(contactId, version + 1);
      remember(contactId, { state: next, version: version + 1, outbox: [] });
      report();
      return;
    }
    throw new ContactStateConflictError(contactId);
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
      await Promise.all(
        [...byKey].map(([key, facts]) => exclusive(key, () => handleContact(key, facts))),
      );
    },
  };
}
