/**
 * The record of a request's Graph calls (invariant 7), one per request id.
 *
 * - `claimed`: an owner holds the request and may call; no call of it is under way (it waits for
 *   its recipient's pacing or its rate slot, or an earlier call was definitely refused). A new
 *   owner takes it over by raising `epoch`: the old owner's fence then fails and it never calls.
 * - `calling`: written at the last moment before a call, compared on the owner's epoch (the
 *   fence): the HTTP request may have been written from here on. Without a result this is the
 *   only state that can become "in doubt".
 * - `done`: the request's outcomes are stored (published, or to publish again on redelivery).
 * - `in_doubt`: a call's result is unknown; never called again, reconciled from its status.
 * - `refused`: written by earlier versions after a refused call; read as `claimed`.
 */
export type AttemptState = "claimed" | "calling" | "done" | "in_doubt" | "refused";

/** A late template fallback the request still owes (a free-form message Meta failed with 131047). */
export interface LateFallback {
  /** The DispatchMessage carrying the template: the only dispatch that may call again. */
  readonly dispatchId: string;
  readonly failedWamid: string;
  readonly code: number;
  readonly title?: string | undefined;
}

export interface AttemptView {
  readonly requestId: string;
  readonly state: AttemptState;
  /** Raised by every claim and take-over; an owner's writes compare it (a fence). */
  readonly epoch: number;
  /** Epoch ms of the latest call, recorded just before it; undefined when none was made. */
  readonly calledAt: number | undefined;
  readonly calls: number;
  /** Events already decided for this request (published, or to publish again on redelivery). */
  readonly outcomeIds: readonly string[];
  readonly lateFallback: LateFallback | undefined;
}

export type RecordedDecision =
  /** Nobody is calling and the record allows a call: claim it under a new epoch. */
  | { readonly kind: "take-over"; readonly epoch: number }
  /** Finished or in doubt already (or not this dispatch's to send): publish the stored outcomes again. */
  | { readonly kind: "replay" }
  /** A call may be under way right now (its owner mid-call): look again later. */
  | { readonly kind: "wait"; readonly untilMs: number }
  /** A call was recorded and never got a result: it may have reached Meta. Never called again. */
  | { readonly kind: "in-doubt"; readonly calledAt: number };

/**
 * What a dispatch does with its request's record, found when its first claim lost to it (a
 * redelivery, a restart, a rebalance, a late fallback). The at-most-once rule in one place:
 * only a record in which no call may be under way (`claimed`) is taken over, and a call is made
 * only after the owner's fence turned it into `calling`; a `calling` record without a result,
 * past the longest a live call can take (`callBoundMs`), is in doubt for ever.
 */
export function decideRecorded(
  record: AttemptView,
  dispatchId: string,
  now: number,
  callBoundMs: number,
): RecordedDecision {
  switch (record.state) {
    case "done":
    case "in_doubt":
      return { kind: "replay" };
    case "claimed":
    case "refused":
      // A late fallback is owed to one dispatch only: any other copy of the request replays.
      if (record.lateFallback !== undefined && record.lateFallback.dispatchId !== dispatchId)
        return { kind: "replay" };
      return { kind: "take-over", epoch: record.epoch };
    case "calling": {
      const calledAt = record.calledAt ?? 0;
      return calledAt + callBoundMs > now
        ? { kind: "wait", untilMs: calledAt + callBoundMs }
        : { kind: "in-doubt", calledAt };
    }
  }
}

/**
 * Where a stored outcome event was handed over for publishing: the input record whose Kafka
 * transaction commits it (`<topic>:<partition>:<offset>`, `recordOrigin`), or `OUTBOX` for an
 * event of no record (a parked dispatch, the in-doubt timeout, a dead-lettered dispatch), which
 * the outbox publishes through a transaction of its own and then marks published.
 */
export type Origin = string;
export const OUTBOX: Origin = "outbox";

/** The origin of events handed over by the handler of one input record. */
export const recordOrigin = (topic: string, partition: number, offset: string | number): Origin =>
  `${topic}:${String(partition)}:${String(offset)}`;

/** What a replay does with a request's stored outcomes (event ids, in stored order). */
export interface Replay {
  /** Published again, through the replaying record's own transaction. */
  readonly publish: readonly string[];
  /** Moved to the outbox (a parked record's outcomes), which publishes them. */
  readonly adopt: readonly string[];
}

/**
 * The stored outcomes a handler publishes again when it finds its request settled (ADR 0006,
 * "Exactly one outcome record"). A record's outputs are committed with its offset in one Kafka
 * transaction, so a record that comes again had its transaction not committed: its handler
 * publishes the events of its own origin again (and events stored before origins were kept, as
 * before). Any other record of the request (a DispatchMessage the router emitted twice, a status
 * event repeated) publishes nothing: the events' own record did, or will when it comes again.
 * A parked record completed when it was parked, so it never comes again: the drain moves the
 * events of that record's origin to the outbox. Outbox events are the outbox's to publish.
 */
export function decideReplay(
  outcomes: readonly { readonly eventId: string }[],
  origins: ReadonlyMap<string, Origin>,
  by: { readonly origin: Origin; readonly adopts?: Origin | undefined },
): Replay {
  const publish: string[] = [];
  const adopt: string[] = [];
  for (const { eventId } of outcomes) {
    const from = origins.get(eventId);
    if (by.origin !== OUTBOX) {
      if (from === undefined || from === by.origin) publish.push(eventId);
    } else if (by.adopts !== undefined && from === by.adopts) adopt.push(eventId);
  }
  return { publish, adopt };
}
