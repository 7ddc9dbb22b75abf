import type { AnyEvent } from "@parley/contracts";
import {
  decide,
  needsCatalog,
  needsWindow,
  requestFingerprint,
  type MarketingCap,
  type OutboundCommand,
  type OutboundContext,
  type SendRequested,
  type SenderNumber,
} from "./decide.js";
import {
  evolve,
  initialState,
  isOutput,
  retain,
  type ConsentEvent,
  type OutboundRetention,
  type OutboundState,
  type WindowEvent,
  type WindowFact,
} from "./evolve.js";
import type { TemplateCatalog } from "./templates.js";

/** A contact's outbound state, with the outputs decided but not yet known published. */
export interface StoredOutbound {
  readonly state: OutboundState;
  readonly version: number;
  readonly outbox: readonly AnyEvent[];
}

/** Port: where outbound state survives restarts and rebalances (MongoDB in production). */
export interface OutboundStore {
  load(contactId: string): Promise<StoredOutbound | undefined>;
  /**
   * Writes state and outbox if the stored version is still `expectedVersion` (0: no document
   * yet), as version `expectedVersion + 1`; false when someone else wrote first.
   */
  save(
    contactId: string,
    next: { readonly state: OutboundState; readonly outbox: readonly AnyEvent[] },
    expectedVersion: number,
  ): Promise<boolean>;
  /** Empties the outbox once its events are published, if nothing was written meanwhile. */
  clearOutbox(contactId: string, version: number): Promise<void>;
}

/** Port: the contact's service windows as the inbound side last stored them. */
export interface WindowReader {
  windowsOf(contactId: string): Promise<readonly WindowFact[]>;
}

/** Port: a WABA's template catalog (see catalog.ts). */
export interface CatalogReader {
  /** The last synced catalog; syncs once if there is none; throws a retriable error if it cannot. */
  get(wabaId: string): Promise<TemplateCatalog>;
  /** Syncs from Graph now if the catalog is older than `minAgeMs`; false if nothing changed. */
  refreshIfOlder(wabaId: string, minAgeMs: number): Promise<boolean>;
}

/** Port: appends events to their catalog topics, acknowledged by all in-sync replicas. */
export type Publish = (events: readonly AnyEvent[]) => Promise<void>;

/** What the handler reports for metrics. */
export interface OutboundObserver {
  decided(request: SendRequested, outputs: readonly AnyEvent[]): void;
  conflict(): void;
  /** How long one stage of one record took (where the time goes per request). */
  stage?(stage: OutboundStage, ms: number): void;
}

/**
 * queued: appended -> handed to the handler (the consumer's share); wait: -> this contact's turn
 * in the handler; the rest are the handler's own steps.
 */
export type OutboundStage = "queued" | "wait" | "load" | "context" | "decide" | "save" | "publish";

const silent: OutboundObserver = { decided: () => undefined, conflict: () => undefined };

/** Another writer kept winning the optimistic race; the record is retried in place. */
export class OutboundStateConflictError extends Error {
  override readonly name = "OutboundStateConflictError";
  readonly retriable = true;
  constructor() {
    super("outbound contact state kept changing under us; will retry");
  }
}

export type OutboundInput = SendRequested | ConsentEvent | WindowEvent;

export interface OutboundHandlerOptions {
  readonly store: OutboundStore;
  readonly publish: Publish;
  readonly clock: () => Date;
  readonly resolveSender: OutboundContext["resolveSender"];
  readonly catalogs: CatalogReader;
  readonly windows: WindowReader;
  readonly marketingCap: MarketingCap;
  readonly retention: Omit<OutboundRetention, "marketingPeriodMs">;
  readonly eventIdOf: (name: string) => string;
  /** Digest of a request's fingerprint (sha-256 of canonical JSON in production). */
  readonly digest: (value: unknown) => string;
  /** A template missing or not approved in a catalog older than this is synced again, once. */
  readonly missRefreshMs?: number;
  readonly maxConflicts?: number;
  /**
   * Contacts whose state stays in memory between records (least recently used go first); 0
   * reads MongoDB every time. A stale entry is harmless: its write fails the version check and
   * the contact is read again (as on the inbound side).
   */
  readonly cacheSize?: number;
  readonly observer?: OutboundObserver;
}

export interface OutboundHandler {
  /** Decides one consumed event for its contact; resolves once state and outputs are durable. */
  handle(event: OutboundInput): Promise<void>;
}

/**
 * Runs the outbound decider per contact, with the inbound side's outbox pattern (ADR 0004):
 * load; publish an outbox a crash left behind; decide; save state and outputs in one
 * version-checked write; publish; clear the outbox. A redelivered request finds itself in the
 * state and emits nothing; a crash after the save re-publishes the same events (same ids).
 */
export function createOutboundHandler({
  store,
  publish,
  clock,
  resolveSender,
  catalogs,
  windows,
  marketingCap,
  retention,
  eventIdOf,
  digest,
  missRefreshMs = 60_000,
  maxConflicts = 10,
  cacheSize = 10_000,
  observer = silent,
}: OutboundHandlerOptions): OutboundHandler {
  if (!Number.isInteger(cacheSize) || cacheSize < 0) {
    throw new RangeError(`cacheSize must be a whole number >= 0, got ${cacheSize}`);
  }
  if (!Number.isInteger(marketingCap.count) || marketingCap.count < 0) {
    throw new RangeError(
      `marketingCap.count must be a whole number >= 0, got ${marketingCap.count}`,
    );
  }
  const limits: OutboundRetention = { ...retention, marketingPeriodMs: marketingCap.periodMs };
  const locks = new Map<string, Promise<void>>();
  /** Contact states as last written or read here, least recently used first. */
  const cache = new Map<string, StoredOutbound>();
  /**
   * Outbox clears still on their way to MongoDB. Nobody waits for them on the request's path
   * (the next save of the contact overwrites the outbox anyway); a read of the contact from
   * MongoDB waits for its own, so it never re-publishes what this process already published.
   */
  const clearing = new Map<string, Promise<void>>();

  const load = async (contactId: string): Promise<StoredOutbound | undefined> => {
    const hit = cache.get(contactId);
    if (hit !== undefined) {
      cache.delete(contactId);
      cache.set(contactId, hit);
      return hit;
    }
    await clearing.get(contactId);
    return store.load(contactId);
  };
  const remember = (contactId: string, stored: StoredOutbound) => {
    if (cacheSize === 0) return;
    cache.delete(contactId);
    cache.set(contactId, stored);
    if (cache.size > cacheSize) {
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
  };
  const clearLater = (contactId: string, version: number) => {
    const work = store.clearOutbox(contactId, version).catch(() => {
      // Harmless: the outbox holds events already published; the next save replaces it, and a
      // reload would re-publish them with the same ids.
    });
    clearing.set(contactId, work);
    void work.then(() => {
      if (clearing.get(contactId) === work) clearing.delete(contactId);
    });
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

  const commandOf = (event: OutboundInput): OutboundCommand => {
    switch (event.type) {
      case "SendRequested":
        return {
          type: "DecideSend",
          request: event,
          contentHash: digest(requestFingerprint(event)),
        };
      case "ConsentGranted":
      case "ConsentRevoked":
        return { type: "RecordConsent", event };
      case "ConversationWindowOpened":
      case "ConversationWindowExtended":
        return { type: "RecordWindow", event };
    }
  };

  /** What the decider needs from outside for this command, read before deciding. */
  const contextFor = async (
    command: OutboundCommand,
    now: Date,
  ): Promise<{ ctx: OutboundContext; sender: SenderNumber | undefined }> => {
    const base: OutboundContext = {
      now,
      resolveSender,
      catalog: undefined,
      observedWindows: [],
      marketingCap,
      eventIdOf,
    };
    if (command.type !== "DecideSend") return { ctx: base, sender: undefined };
    const request = command.request;
    const sender = resolveSender(request.data.sender);
    const [observedWindows, catalog] = await Promise.all([
      // Only free-form content depends on the window; a template goes out whatever it is.
      needsWindow(request) ? windows.windowsOf(request.data.contactId) : Promise.resolve([]),
      sender !== undefined && needsCatalog(request)
        ? catalogs.get(sender.wabaId)
        : Promise.resolve(undefined),
    ]);
    return { ctx: { ...base, observedWindows, catalog }, sender };
  };

  const timed = async <T>(stage: OutboundStage, work: () => Promise<T>): Promise<T> => {
    if (observer.stage === undefined) return work();
    const start = performance.now();
    try {
      return await work();
    } finally {
      observer.stage(stage, performance.now() - start);
    }
  };

  const decideAndPublish = async (contactId: string, command: OutboundCommand) => {
    let refreshed = false;
    for (let attempt = 0; attempt < maxConflicts; attempt++) {
      const stored = await timed("load", () => load(contactId));
      const version = stored?.version ?? 0;
      if (stored !== undefined && stored.outbox.length > 0) await publish(stored.outbox);
      const now = clock();
      const state = stored?.state ?? initialState(contactId);
      const { ctx, sender } = await timed("context", () => contextFor(command, now));
      const decideStart = performance.now();
      let emitted = decide(command, state, ctx);
      observer.stage?.("decide", performance.now() - decideStart);
      // A template missing or not approved in an old catalog may be new: sync once, decide again.
      if (
        !refreshed &&
        sender !== undefined &&
        emitted.some((e) => e.type === "SendRejected" && e.data.reason === "template_not_approved")
      ) {
        refreshed = true;
        if (await catalogs.refreshIfOlder(sender.wabaId, missRefreshMs).catch(() => false)) {
          const again = await contextFor(command, now);
          emitted = decide(command, state, again.ctx);
        }
      }
      const outputs: AnyEvent[] = emitted.filter(isOutput);
      if (emitted.length === 0 && (stored?.outbox.length ?? 0) === 0) {
        if (stored !== undefined) remember(contactId, stored);
        if (command.type === "DecideSend") observer.decided(command.request, []);
        return;
      }
      const next = retain(emitted.reduce<OutboundState>(evolve, state), now, limits);
      if (
        !(await timed("save", () =>
          store.save(contactId, { state: next, outbox: outputs }, version),
        ))
      ) {
        cache.delete(contactId);
        observer.conflict();
        continue;
      }
      if (outputs.length > 0) {
        await timed("publish", () => publish(outputs));
        clearLater(contactId, version + 1);
      }
      remember(contactId, { state: next, version: version + 1, outbox: [] });
      if (command.type === "DecideSend") observer.decided(command.request, outputs);
      return;
    }
    throw new OutboundStateConflictError();
  };

  return {
    handle(event) {
      const contactId = event.data.contactId;
      const command = commandOf(event);
      const consumedAt = performance.now();
      return exclusive(contactId, async () => {
        observer.stage?.("wait", performance.now() - consumedAt);
        try {
          await decideAndPublish(contactId, command);
        } catch (error) {
          // Whatever failed (a save that may have landed, a publish), the next try reads MongoDB.
          cache.delete(contactId);
          throw error;
        }
      });
    },
  };
}
