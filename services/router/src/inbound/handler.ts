import type { AnyEvent } from "@parley/contracts";
import {
  createCommandHandler,
  UnpublishableEventError,
  type HandlerStage,
  type Publish,
  type StateStore,
} from "@parley/decider";
import { errorMessage, ParleyError, retryOf, type RetryKind } from "@parley/errors";
import {
  inboundDecider,
  isFact,
  retain,
  stateKeyOf,
  type ContactState,
  type DecideContext,
  type Fact,
  type RetentionLimits,
  type RouterEvent,
} from "./decide.js";

/** Port: each contact's state and outbox (MongoDB in production, the runtime's fake in tests). */
export type ContactStore = StateStore<ContactState, RouterEvent>;

/** What the handler reports for metrics and logs; contact ids are never passed (phone numbers). */
export interface InboundObserver {
  /** A fact was decided and its events are published: `emitted` is empty for a duplicate. */
  decided(fact: Fact, emitted: readonly RouterEvent[]): void;
  /** Another writer saved the contact first; the decision is made again. */
  conflict(): void;
  /** The publisher refused an event for good; it left the outbox and its fact was forgotten. */
  dropped?(event: RouterEvent, error: unknown): void;
  stage?(stage: HandlerStage, ms: number): void;
}

const silent: InboundObserver = { decided: () => undefined, conflict: () => undefined };

interface Dropped {
  readonly event: RouterEvent;
  readonly error: unknown;
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
      return `${event.type} ${event.eventId}${wamid}: ${errorMessage(error)}`;
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

export interface InboundHandlerOptions {
  readonly store: ContactStore;
  readonly publish: Publish<RouterEvent>;
  readonly clock: () => Date;
  readonly decideWith: Omit<DecideContext, "now">;
  readonly limits: RetentionLimits;
  readonly maxConflicts?: number;
  /** Contacts whose state stays in memory between webhooks (least recently used go); 0: none. */
  readonly cacheSize?: number;
  /** Batches (load, save, publish, mark) running at once; the next one gathers meanwhile. */
  readonly batchesInFlight?: number;
  /** Contacts at most in one batch. */
  readonly maxBatchContacts?: number;
  /**
   * Published marks written behind the webhooks, the batches of this many ms together (ADR
   * 0010, "Deferred marks"); unset: each batch waits for its own. Call `flush` when stopping.
   */
  readonly markDelayMs?: number;
  readonly observer?: InboundObserver;
}

export interface InboundHandler {
  /** Decides and publishes the events parsed from one raw webhook; resolves once all are durable. */
  handle(parsed: readonly AnyEvent[]): Promise<void>;
  /** Writes the published marks held back by `markDelayMs` (on stopping). */
  flush(): Promise<void>;
}

const RANK: Readonly<Record<RetryKind, number>> = { outage: 0, bounded: 1, never: 2 };

/**
 * The inbound use case: the contact decider run by the shared runtime (ADR 0010), which owns the
 * batching, the per-contact lock, the cache, the outbox, the versioned save, publishing and
 * conflict retry. What is the router's own: a webhook's facts go to their contacts' states (a
 * contact's facts in order), and an event the publisher refuses for good makes its contact
 * forget the fact behind it (a ForgetFacts command after the drop) while the webhook fails with
 * EventNotPublishedError naming it, to be dead-lettered. A webhook whose contacts fail
 * differently fails with the failure that asks most of the caller: an outage (waited out; the
 * rest are decided again as duplicates), then a bounded retry, then a dead letter.
 */
export function createInboundHandler({
  store,
  publish,
  clock,
  decideWith,
  limits,
  maxConflicts,
  cacheSize = 1_000,
  batchesInFlight,
  maxBatchContacts,
  markDelayMs,
  observer = silent,
}: InboundHandlerOptions): InboundHandler {
  /** Refused events per contact, until their facts are forgotten. */
  const refused = new Map<string, Dropped[]>();
  const runtime = createCommandHandler({
    decider: inboundDecider,
    store,
    publish,
    clock,
    context: (commands, now) => commands.map(() => ({ ...decideWith, now })),
    retain: (state, now) => retain(state, now, limits),
    cacheSize,
    ...(maxConflicts === undefined ? {} : { maxConflicts }),
    ...(batchesInFlight === undefined ? {} : { batchesInFlight }),
    ...(maxBatchContacts === undefined ? {} : { maxBatchKeys: maxBatchContacts }),
    ...(markDelayMs === undefined ? {} : { markDelayMs }),
    observer: {
      decided(_key, command, events) {
        if (command.type === "ForgetFacts") return;
        observer.decided(
          command,
          events.filter((e): e is RouterEvent => e.type !== "FactsForgotten"),
        );
      },
      conflict: () => {
        observer.conflict();
      },
      dropped(key, event, error) {
        const list = refused.get(key);
        if (list === undefined) refused.set(key, [{ event, error }]);
        else list.push({ event, error });
        observer.dropped?.(event, error);
      },
      stage: (stage, ms) => {
        observer.stage?.(stage, ms);
      },
    },
  });

  /** Makes the contact forget the facts behind its refused events; kept for a retry if it fails. */
  const forgetRefused = async (contactId: string) => {
    const pending = refused.get(contactId);
    if (pending === undefined) return;
    const dropped = [...pending];
    await runtime.handle([
      { key: contactId, command: { type: "ForgetFacts", dropped: dropped.map((d) => d.event) } },
    ]);
    const left = pending.filter((d) => !dropped.includes(d));
    if (left.length === 0) refused.delete(contactId);
    else refused.set(contactId, left);
  };

  const handleContact = async (contactId: string, facts: readonly Fact[]) => {
    let failure: { readonly error: unknown } | undefined;
    try {
      await runtime.handle(facts.map((command) => ({ key: contactId, command })));
    } catch (error) {
      failure = { error };
    }
    // Each refused event's own reason, for the dead letter (the runtime's error keeps the first).
    const errors = new Map((refused.get(contactId) ?? []).map((d) => [d.event, d.error]));
    await forgetRefused(contactId);
    if (failure === undefined) return;
    const { error } = failure;
    if (error instanceof UnpublishableEventError) {
      const events = error.dropped as readonly RouterEvent[];
      throw new EventNotPublishedError(
        events.map((event) => ({ event, error: errors.get(event) ?? error.cause })),
      );
    }
    throw error;
  };

  return {
    flush: () => runtime.flush(),
    async handle(parsed) {
      const byKey = new Map<string, Fact[]>();
      for (const event of parsed) {
        // The parser only produces facts; anything else is a programming error, not a retry.
        if (!isFact(event)) throw new TypeError(`the parser produced ${event.type}, not a fact`);
        const key = stateKeyOf(event);
        const list = byKey.get(key);
        if (list === undefined) byKey.set(key, [event]);
        else list.push(event);
      }
      const results = await Promise.allSettled(
        [...byKey].map(([key, facts]) => handleContact(key, facts)),
      );
      let failure: { readonly error: unknown } | undefined;
      for (const result of results) {
        if (result.status === "fulfilled") continue;
        const error: unknown = result.reason;
        if (failure === undefined || RANK[retryOf(error)] < RANK[retryOf(failure.error)]) {
          failure = { error };
        }
      }
      if (failure !== undefined) throw failure.error;
    },
  };
}
