import type { AnyEvent, EventOf } from "@parley/contracts";

/**
 * A consumed event as the read models see it: the fact, the trace it travelled with (from the
 * record's `traceparent`) and the country of the contact it names (a lookup done once, before
 * any decider, so that deciders stay pure and `evolve` needs no context).
 */
export interface Observed {
  readonly type: "Observed";
  readonly event: AnyEvent;
  readonly traceId?: string;
  /** ISO 3166 alpha-2 of the event's contact, when its id is a phone number or a regional BSUID. */
  readonly country?: string;
  /** The event's contact is erased (looked up once, like the country): keep nothing of them. */
  readonly erased?: boolean;
}

/**
 * The projector found this document naming a contact whose erasure is recorded (ADR 0012): drop
 * what identifies them. Sent to every document that names the person once the contact's
 * tombstone is stored, whichever came first, so no document is left behind.
 */
export interface ContactDropped {
  readonly type: "ContactDropped";
  readonly contactId: string;
}

/** The events of `send-outcomes`: a request's answers (ADR 0009). */
export type OutcomeEvent = EventOf<
  | "SendAccepted"
  | "SendRejected"
  | "SendFailed"
  | "SendExpired"
  | "SendInDoubt"
  | "SendReconciled"
  | "SendDeduplicated"
>;

export const OUTCOME_TYPES: ReadonlySet<string> = new Set([
  "SendAccepted",
  "SendRejected",
  "SendFailed",
  "SendExpired",
  "SendInDoubt",
  "SendReconciled",
  "SendDeduplicated",
]);

export const isOutcome = (event: AnyEvent): event is OutcomeEvent => OUTCOME_TYPES.has(event.type);

/**
 * What a request knows about one of its messages, handed from the request's read model to the
 * message's (keyed by wamid): a status webhook names only the wamid, the request names the
 * template, category and sender the analytics need. Field by field, a known value wins over an
 * unknown one, so links merge the same way in any order.
 */
export interface MessageLink {
  readonly requestId: string;
  readonly contactId?: string;
  readonly country?: string;
  readonly businessNumber?: string;
  readonly requester?: string;
  readonly template?: string;
  readonly category?: string;
  readonly usedTemplateFallback?: boolean;
  /** When Meta accepted the message (the acceptance's occurredAt). */
  readonly acceptedAt?: string;
}

/** Output of the request read model, applied to the message read model of `wamid`. */
export interface MessageLinked {
  readonly type: "MessageLinked";
  readonly eventId: string;
  readonly wamid: string;
  readonly link: MessageLink;
}

/** One customer-service window as the conversation read model derives it. */
export interface WindowView {
  readonly openedBy: string;
  readonly openedAt: string;
  readonly expiresAt: string;
  readonly freeEntryPoint: boolean;
  /** The inbound message that last extended the window, if any did. */
  readonly lastExtendedBy?: string;
  /** The first message the business sent inside the window (Meta's acceptance time). */
  readonly firstResponseAt?: string;
}

/**
 * Output of the conversation read model: the window `openedBy` opened, as the conversation now
 * derives it, applied to that inbound message's read model (the analytics of response times
 * count there). The latest derivation replaces the earlier ones; a conversation publishes its
 * derivations in order.
 */
export interface WindowObserved {
  readonly type: "WindowObserved";
  readonly eventId: string;
  readonly wamid: string;
  readonly businessNumber: string;
  readonly window: WindowView;
}

/** Output of any read model whose analytics contribution changed: recompute this bucket. */
export interface BucketTouched {
  readonly type: "BucketTouched";
  readonly eventId: string;
  readonly bucket: string;
}

/** An internal record: the read model applied this command (the state is folded from it). */
export interface Applied<Command> {
  readonly type: "Applied";
  readonly command: Command;
}
