import {
  createCommandHandler,
  type ContextLoader,
  type HandlerStage,
  type Keyed,
  type Publish,
  type Reconsider,
  type StateStore,
} from "@parley/decider";
import {
  needsCatalog,
  needsWindow,
  outboundDecider,
  requestFingerprint,
  type MarketingCap,
  type OutboundCommand,
  type OutboundContext,
  type SendRequested,
} from "./decide.js";
import {
  isOutput,
  retain,
  type ConsentEvent,
  type OutboundEvent,
  type OutboundOutput,
  type OutboundRetention,
  type OutboundState,
  type WindowEvent,
  type WindowFact,
} from "./evolve.js";
import type { TemplateCatalog } from "./templates.js";

/** Port: each contact's outbound state and outbox (MongoDB in production). */
export type OutboundStore = StateStore<OutboundState, OutboundOutput>;

/** Port: contacts' service windows as the inbound side last stored them. */
export interface WindowReader {
  /** The windows of each contact asked for (a contact with none may be absent). */
  windowsOf(contactIds: readonly string[]): Promise<ReadonlyMap<string, readonly WindowFact[]>>;
}

/** Port: a WABA's template catalog (see catalog.ts). */
export interface CatalogReader {
  /** The last synced catalog; syncs once if there is none; throws CatalogUnavailableError if it cannot. */
  get(wabaId: string): Promise<TemplateCatalog>;
  /** Syncs from Graph now if the catalog is older than `minAgeMs`; false if nothing changed. */
  refreshIfOlder(wabaId: string, minAgeMs: number): Promise<boolean>;
}

/**
 * queued: appended -> handed to the handler (the consumer's share); wait: -> this contact's turn
 * in the handler; the rest are the runtime's steps per batch.
 */
export type OutboundStage = "queued" | HandlerStage;

/** What the handler reports for metrics. */
export interface OutboundObserver {
  decided(request: SendRequested, outputs: readonly OutboundOutput[]): void;
  conflict(): void;
  /** How long one stage took (where the time goes per request). */
  stage?(stage: OutboundStage, ms: number): void;
}

const silent: OutboundObserver = { decided: () => undefined, conflict: () => undefined };

export type OutboundInput = SendRequested | ConsentEvent | WindowEvent;

export interface OutboundHandlerOptions {
  readonly store: OutboundStore;
  readonly publish: Publish<OutboundOutput>;
  readonly clock: () => Date;
  readonly resolveSender: OutboundContext["resolveSender"];
  readonly catalogs: CatalogReader;
  readonly windows: WindowReader;
  readonly marketingCap: MarketingCap;
  /** Authentication templates exempt from opt-outs (OutboundContext.authenticationExempt). */
  readonly authenticationExempt?: boolean;
  readonly retention: Omit<OutboundRetention, "marketingPeriodMs">;
  readonly eventIdOf: (name: string) => string;
  /** Digest of a request's fingerprint (sha-256 of canonical JSON in production). */
  readonly digest: (value: unknown) => string;
  /** A template missing or not approved in a catalog older than this is synced again, once. */
  readonly missRefreshMs?: number;
  readonly maxConflicts?: number;
  /** Contacts whose state stays in memory between records (least recently used go); 0: none. */
  readonly cacheSize?: number;
  /** As the inbound side's (ADR 0010, "Deferred marks"); unset: each batch waits for its marks. */
  readonly markDelayMs?: number;
  readonly observer?: OutboundObserver;
}

export interface OutboundHandler {
  /** Decides one consumed event for its contact; resolves once state and outputs are durable. */
  handle(event: OutboundInput): Promise<void>;
  /** Writes the published marks held back by `markDelayMs` (on stopping). */
  flush(): Promise<void>;
}

const asError = (error: unknown): Error =>
  error instanceof Error ? error : new Error(String(error));

/**
 * The outbound use case: the send decider run by the shared runtime (ADR 0010), which owns the
 * batching, the per-contact lock, the cache, the outbox, the versioned save, publishing and
 * conflict retry. What is the router's own: the context each decision needs (the inbound side's
 * windows for free-form content, the sender WABA's template catalog), loaded once per batch for
 * all its contacts; and a second look at a rejection for a template missing or not approved in
 * an older catalog, which syncs that catalog and decides again. A redelivered request finds
 * itself in the state and emits nothing; a crash after the save re-publishes the same events.
 */
export function createOutboundHandler({
  store,
  publish,
  clock,
  resolveSender,
  catalogs,
  windows,
  marketingCap,
  authenticationExempt = false,
  retention,
  eventIdOf,
  digest,
  missRefreshMs = 60_000,
  maxConflicts,
  cacheSize = 10_000,
  markDelayMs,
  observer = silent,
}: OutboundHandlerOptions): OutboundHandler {
  if (!Number.isInteger(marketingCap.count) || marketingCap.count < 0) {
    throw new RangeError(
      `marketingCap.count must be a whole number >= 0, got ${marketingCap.count}`,
    );
  }
  const limits: OutboundRetention = { ...retention, marketingPeriodMs: marketingCap.periodMs };
  const base = (now: Date): OutboundContext => ({
    now,
    resolveSender,
    catalog: undefined,
    observedWindows: [],
    marketingCap,
    eventIdOf,
    authenticationExempt,
  });

  /**
   * Per batch: the windows of every contact sending free-form content (one read), and the
   * catalog of every sender WABA a template needs (one each). A failure fails only the commands
   * that needed what failed (an outage is still waited out by each of them).
   */
  const context: ContextLoader<OutboundCommand, OutboundContext> = async (commands, now) => {
    const sends = commands.flatMap(({ command }) =>
      command.type === "DecideSend" ? [command.request] : [],
    );
    const windowIds = [
      ...new Set(sends.filter(needsWindow).map((request) => request.data.contactId)),
    ];
    const wabaIds = [
      ...new Set(
        sends
          .filter(needsCatalog)
          .flatMap((request) => resolveSender(request.data.sender)?.wabaId ?? []),
      ),
    ];
    const [observed, catalogList] = await Promise.all([
      windowIds.length === 0
        ? Promise.resolve(new Map<string, readonly WindowFact[]>())
        : windows.windowsOf(windowIds).catch(asError),
      Promise.all(
        wabaIds.map((wabaId) =>
          catalogs.get(wabaId).then(
            (catalog): TemplateCatalog | Error => catalog,
            (error: unknown) => asError(error),
          ),
        ),
      ),
    ]);
    const catalogOf = new Map(wabaIds.map((wabaId, index) => [wabaId, catalogList[index]]));
    return commands.map(({ command }): OutboundContext | Error => {
      if (command.type !== "DecideSend") return base(now);
      const request = command.request;
      let observedWindows: readonly WindowFact[] = [];
      if (needsWindow(request)) {
        if (observed instanceof Error) return observed;
        observedWindows = observed.get(request.data.contactId) ?? [];
      }
      const wabaId = resolveSender(request.data.sender)?.wabaId;
      const catalog =
        wabaId !== undefined && needsCatalog(request) ? catalogOf.get(wabaId) : undefined;
      if (catalog instanceof Error) return catalog;
      return { ...base(now), observedWindows, catalog };
    });
  };

  /**
   * A template missing or not approved in an old catalog may be new: sync once, decide again.
   * Answers at once (no promise) when there is nothing to look at again: almost every decision.
   */
  const reconsider: Reconsider<OutboundCommand, OutboundEvent, OutboundContext> = ({
    command,
    events,
    context: ctx,
  }) => {
    if (command.type !== "DecideSend") return undefined;
    const missed = events.some(
      (e) => e.type === "SendRejected" && e.data.reason === "template_not_approved",
    );
    const wabaId = missed ? resolveSender(command.request.data.sender)?.wabaId : undefined;
    if (wabaId === undefined) return undefined;
    return catalogs
      .refreshIfOlder(wabaId, missRefreshMs)
      .catch(() => false)
      .then(async (synced) =>
        synced ? { ...ctx, catalog: await catalogs.get(wabaId) } : undefined,
      );
  };

  const runtime = createCommandHandler({
    decider: outboundDecider,
    store,
    publish,
    clock,
    context,
    reconsider,
    retain: (state, now) => retain(state, now, limits),
    cacheSize,
    ...(maxConflicts === undefined ? {} : { maxConflicts }),
    ...(markDelayMs === undefined ? {} : { markDelayMs }),
    observer: {
      decided(_key, command, events) {
        if (command.type === "DecideSend")
          observer.decided(command.request, events.filter(isOutput));
      },
      conflict: () => {
        observer.conflict();
      },
      stage: (stage, ms) => {
        observer.stage?.(stage, ms);
      },
    },
  });

  const commandOf = (event: OutboundInput): Keyed<OutboundCommand> => {
    const key = event.data.contactId;
    switch (event.type) {
      case "SendRequested":
        return {
          key,
          command: {
            type: "DecideSend",
            request: event,
            contentHash: digest(requestFingerprint(event)),
          },
        };
      case "ConsentGranted":
      case "ConsentRevoked":
        return { key, command: { type: "RecordConsent", event } };
      case "ConversationWindowOpened":
      case "ConversationWindowExtended":
        return { key, command: { type: "RecordWindow", event } };
    }
  };

  return {
    handle: (event) => runtime.handle([commandOf(event)]),
    flush: () => runtime.flush(),
  };
}
