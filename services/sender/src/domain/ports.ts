import type { AnyEvent, EventOf } from "@parley/contracts";
import type { AttemptView, LateFallback, Origin } from "./attempt.js";

export { OUTBOX, recordOrigin, type Origin } from "./attempt.js";
import type { GateView } from "./gate.js";
import type { ThroughputLevel } from "./throughput.js";

/**
 * Where one handling's outcome events go (ADR 0006, "Exactly one outcome record"). Every
 * event is stored with the outlet's origin before `publish` is called.
 */
export interface OutcomeOutlet {
  readonly origin: Origin;
  /**
   * A record's outlet: the events go into the record's own transaction. The outbox's: they go
   * into the next transaction of an owned dispatch partition, and are marked published once it
   * committed (or left pending for the outbox sweep).
   */
  publish(requestId: string, events: readonly AnyEvent[]): Promise<void>;
  /**
   * A parked dispatch's outlet: the record it was parked from. That record completed when it was
   * parked, so outcomes stored under its origin (handled before a crash, then parked when it came
   * again) can only reach the topic through the outbox: the drain moves them there.
   */
  readonly adopts?: Origin;
}

/** A dispatch's outlet, with the outbox for what must outlive its record (a dead letter's outcome). */
export interface DispatchOutlet extends OutcomeOutlet {
  /** Events that must not wait for this record's end (its dead letter replaces its outputs). */
  readonly outbox: OutcomeOutlet;
}

/** A request's attempt record as stored, with what the status side needs. */
/** A template by the name and language code Meta knows it by. */
export interface SentTemplate {
  readonly name: string;
  readonly language: string;
}

export interface StoredAttempt extends AttemptView {
  readonly number: string;
  /** Outcome events decided for the request, in order (published, or to publish again). */
  readonly outcomes: readonly AnyEvent[];
  /**
   * The origin of each outcome by event id (and of a late fallback's DispatchMessage); absent for
   * events stored by versions before origins were kept.
   */
  readonly origins: ReadonlyMap<string, Origin>;
  /** Event ids of outbox events not known to be committed yet. */
  readonly unpublished: readonly string[];
  readonly bizOpaqueCallbackData: string;
  /** The request's latest message Meta accepted (its failed status is the request's failure). */
  readonly wamid: string | undefined;
  /**
   * The first status webhook seen while the call's result was unknown (state calling), or the
   * first failed one: a crash right after the call leaves the request to be marked in doubt
   * later, and this resolves it.
   */
  readonly pendingStatus: EventOf<"StatusUpdated"> | undefined;
  /** The dispatch, kept while a late template fallback may be owed (free-form with a fallback). */
  readonly dispatch: EventOf<"DispatchMessage"> | undefined;
  /** The template sent, when the content was one: an async template failure names it. */
  readonly template: SentTemplate | undefined;
  /** The message whose failed status was decided (async failure or late fallback), if any. */
  readonly decidedWamid: string | undefined;
  /** The status event that decided it. */
  readonly decidedByStatus: string | undefined;
  /** The send's trace at the claim (W3C traceparent), for status webhooks to link to. */
  readonly traceparent?: string | undefined;
}

/** The attempts port: every write that guards invariant 7 goes through here, compared on epoch. */
export interface AttemptStore {
  get(requestId: string): Promise<StoredAttempt | undefined>;
  /** The request whose latest accepted message is `wamid` (a status without callback data). */
  byWamid(wamid: string): Promise<StoredAttempt | undefined>;
  /**
   * First claim, one insert: `claimed` under epoch 1 (or `done` with `finishedWith`, a request
   * finished without any call; or, with `calledAt`, `calling` with one call: a first send's claim
   * and fence in one write). False when the request has a record already.
   */
  claim(c: {
    readonly requestId: string;
    readonly number: string;
    /** Who the message goes to, as pair pacing keys it: a new owner seeds the pair's debt from it. */
    readonly recipient?: string;
    readonly contactId: string;
    readonly bizOpaqueCallbackData: string;
    readonly at: Date;
    readonly owner: string;
    readonly finishedWith?: AnyEvent;
    /** The call's instant: the record is inserted `calling` (the fence), not `claimed`. */
    readonly calledAt?: Date;
    /** Where `finishedWith` is published from. */
    readonly origin?: Origin;
    /** Kept for a late fallback (free-form content with a template fallback). */
    readonly dispatch?: EventOf<"DispatchMessage">;
    /** The template sent, when the content is one (SendFailed async names it on 132015/132016). */
    readonly template?: SentTemplate;
  }): Promise<boolean>;
  /** `claimed` (or legacy `refused`) at `epoch` becomes `claimed` at epoch + 1 by `owner`. */
  takeOver(requestId: string, epoch: number, owner: string, at: Date): Promise<boolean>;
  /** The fence: `claimed` at `epoch` becomes `calling` at `calledAt` (calls + 1). */
  fence(requestId: string, epoch: number, calledAt: Date): Promise<boolean>;
  /** A definitely refused call: `calling` at `epoch` becomes `claimed` again (still ours). */
  release(requestId: string, epoch: number): Promise<boolean>;
  /**
   * A fence undone before its call (none was made): `calling` at `epoch` becomes `claimed`
   * again, its call instant removed and its call count back by one.
   */
  unfence(requestId: string, epoch: number): Promise<boolean>;
  /**
   * Appends the outcomes (with their origin) and moves the record from `from` at `epoch` to
   * `state` (outcomes are stored before they are published). False when the record moved on.
   */
  settle(s: {
    readonly requestId: string;
    readonly epoch: number;
    readonly from: "claimed" | "calling";
    readonly state: "done" | "in_doubt";
    readonly outcomes: readonly AnyEvent[];
    readonly at: Date;
    readonly origin: Origin;
    readonly wamid?: string;
  }): Promise<boolean>;
  /** Crash recovery: a `calling` record at `epoch` with no result becomes `in_doubt`. */
  markInDoubt(
    requestId: string,
    epoch: number,
    outcome: AnyEvent,
    at: Date,
    origin: Origin,
  ): Promise<boolean>;
  /** Keeps a status that came while the call's result was unknown; returns the record as it is now. */
  noteStatus(
    requestId: string,
    status: EventOf<"StatusUpdated">,
  ): Promise<StoredAttempt | undefined>;
  /** Appends a resolving outcome to an in-doubt request; false when it was resolved already. */
  resolveInDoubt(
    requestId: string,
    outcome: AnyEvent,
    wamid: string,
    origin: Origin,
  ): Promise<boolean>;
  /**
   * A failed status for the request's latest accepted message (`wamid`): appends the async
   * SendFailed once (false when another status decided already).
   */
  failAsync(
    requestId: string,
    wamid: string,
    outcome: AnyEvent,
    statusId: string,
    origin: Origin,
  ): Promise<boolean>;
  /**
   * A 131047 for the request's free-form message: the record becomes `claimed` again under a new
   * epoch, owing one call to the fallback dispatch (false when another status decided already).
   */
  oweFallback(
    requestId: string,
    wamid: string,
    fallback: LateFallback,
    dispatch: EventOf<"DispatchMessage">,
    statusId: string,
    origin: Origin,
  ): Promise<boolean>;
  /**
   * Moves the events `eventIds` stored under origin `from` (a parked dispatch's record) to the
   * outbox, once: false when none of them was still under `from`.
   */
  adopt(requestId: string, from: Origin, eventIds: readonly string[]): Promise<boolean>;
  /** Outbox events now committed to their topic: no longer pending. */
  markPublished(requestId: string, eventIds: readonly string[]): Promise<void>;
  /** Requests with outbox events pending since before `before`, for the outbox sweep. */
  unpublishedBefore(before: Date, limit: number): Promise<StoredAttempt[]>;
  /** In-doubt requests older than `before`, for the timeout sweeper. */
  inDoubtBefore(before: Date, limit: number): Promise<StoredAttempt[]>;
  /** Since when the oldest request still in doubt has been (`inDoubtSince`); undefined: none. */
  oldestInDoubt(): Promise<Date | undefined>;
  /** Call instants recorded for a number since `since`: a new owner seeds its rate log with them. */
  recentCallTimes(number: string, since: Date): Promise<number[]>;
  /**
   * Call instants recorded for one pair (number, recipient) since `since`: a new owner seeds the
   * recipient's pacing debt with them (ADR 0006, "Pair pacing").
   */
  recentPairCalls(number: string, recipient: string, since: Date): Promise<number[]>;
  /**
   * The latest call instant recorded on a number since `since`, or undefined: a new owner reads
   * its recipients' debts one by one (`recentPairCalls`) only when there is one.
   */
  latestCallAt(number: string, since: Date): Promise<number | undefined>;
  ensureIndexes(): Promise<void>;
}

/** The sender's own gate state per contact: latest consent and window expiry per number. */
export interface GateStore {
  view(contactId: string, number: string): Promise<GateView>;
  consent(
    contactId: string,
    change: "granted" | "revoked",
    scope: "all" | "marketing",
    at: number,
  ): Promise<void>;
  window(contactId: string, number: string, expiresAt: number): Promise<void>;
}

/** What each number's throughput is, as Meta last said it (shared by the sender's instances). */
export interface ThroughputStore {
  /** Every number's last known level. */
  all(): Promise<
    { readonly number: string; readonly level: ThroughputLevel; readonly at: number }[]
  >;
  set(number: string, level: ThroughputLevel, at: number, source: string): Promise<void>;
}
