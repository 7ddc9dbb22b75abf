import type { AnyEvent } from "@parley/contracts";
import {
  decide,
  needsCatalog,
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
}

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
  observer = silent,
}: OutboundHandlerOptions): OutboundHandler {
  if (!Number.isInteger(marketingCap.count) || marketingCap.count < 0) {
    throw new RangeError(
      `marketingCap.count must be a whole number >= 0, got ${marketingCap.count}`,
    );
  }
  const limits: OutboundRetention = { ...retention, marketingPeriodMs: marketingCap.periodMs };
  const locks = new Map<string, Promise<void>>();

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
      windows.windowsOf(request.data.contactId),
      sender !== undefined && needsCatalog(request)
        ? catalogs.get(sender.wabaId)
        : Promise.resolve(undefined),
    ]);
    return { ctx: { ...base, observedWindows, catalog }, sender };
  };

  const decideAndPublish = async (contactId: string, command: OutboundCommand) => {
    let refreshed = false;
    for (let attempt = 0; attempt < maxConflicts; attempt++) {
      const stored = await store.load(contactId);
      const version = stored?.version ?? 0;
      if (stored !== undefined && stored.outbox.length > 0) await publish(stored.outbox);
      const now = clock();
      const state = stored?.state ?? initialState(contactId);
      const { ctx, sender } = await contextFor(command, now);
      let emitted = decide(command, state, ctx);
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
        if (command.type === "DecideSend") observer.decided(command.request, []);
        return;
      }
      const next = retain(emitted.reduce<OutboundState>(evolve, state), now, limits);
      if (!(await store.save(contactId, { state: next, outbox: outputs }, version))) {
        observer.conflict();
        continue;
      }
      if (outputs.length > 0) {
        await publish(outputs);
        await store.clearOutbox(contactId, version + 1);
      }
      if (command.type === "DecideSend") observer.decided(command.request, outputs);
      return;
    }
    throw new OutboundStateConflictError();
  };

  return {
    handle(event) {
      const contactId = event.data.contactId;
      const command = commandOf(event);
      return exclusive(contactId, () => decideAndPublish(contactId, command));
    },
  };
}
