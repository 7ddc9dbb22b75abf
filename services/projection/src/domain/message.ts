import type { EventOf } from "@parley/contracts";
import { appliedEvent, stateAfter } from "./applied.js";
import type { Decider } from "@parley/decider";
import { bucketOfMessage, messageContribution, sameContribution } from "./analytics.js";
import type {
  Applied,
  ContactDropped,
  BucketTouched,
  MessageLink,
  MessageLinked,
  Observed,
  WindowObserved,
  WindowView,
} from "./facts.js";
import {
  canonicalTime,
  clip,
  compareStamps,
  earliest,
  earliestTrace,
  latest,
  type Stamp,
} from "./order.js";
import { eraseMessage, isDrop, withErasure } from "./erasure.js";
import { mergeLinks } from "./request.js";
import { applyStatus, STATUS_RANK, type TimelineEntry } from "./statuses.js";
import { inboundSummary, type ContentSummary } from "./summary.js";

/** What the InboundMessageReceived said (the earliest, should Meta's id ever repeat). */
export interface InboundFacts extends Stamp {
  readonly content: ContentSummary;
  /** The business message this one quotes or replies to. */
  readonly replyTo?: string;
  /** A Click-to-WhatsApp entry: the ad or post the contact came from. */
  readonly referral?: { readonly sourceType?: string; readonly ctwa: boolean };
  readonly groupId?: string;
  readonly errors?: readonly number[];
}

/** What became of the message's media (the latest fact by stamp). */
export interface MediaFacts extends Stamp {
  readonly mediaId: string;
  readonly state: "stored" | "failed" | "expired" | "deleted";
  readonly mimeType?: string;
  readonly sizeBytes?: number;
  readonly reason?: string;
  /** Deleted: the rule that deleted it (retention:image:90d, erasure, api:<key name>). */
  readonly policy?: string;
}

export interface MessageState {
  readonly wamid: string;
  readonly direction?: "inbound" | "outbound";
  readonly contactId?: string;
  readonly businessNumber?: string;
  readonly country?: string;
  readonly inbound?: InboundFacts;
  /** Outbound: what its request knows of it (merged field by field). */
  readonly link?: MessageLink;
  /** Outbound: the request id Meta echoed in `biz_opaque_callback_data`. */
  readonly requestHint?: string;
  /** Every status once, with the time Meta stated, by rank then time (invariant 4). */
  readonly timeline: readonly TimelineEntry[];
  readonly media?: MediaFacts;
  /** Inbound: the window this message opened, as its conversation last derived it. */
  readonly window?: WindowView;
  /** The trace of the earliest event about the message. */
  readonly trace?: Stamp & { readonly traceId: string };
  /** Its contact was erased: nobody's id, words or names stay (see erasure.ts). */
  readonly erased?: boolean;
}

export type MessageCommand = Observed | MessageLinked | WindowObserved | ContactDropped;
export type MessageOutput = BucketTouched;
export type MessageEvent = Applied<MessageCommand> | MessageOutput;

export const MESSAGE_LIMITS = { timeline: 50 } as const;

const stampOf = (event: { readonly occurredAt: string; readonly eventId: string }): Stamp => ({
  at: canonicalTime(event.occurredAt),
  eventId: event.eventId,
});

const minOf = (a: string | undefined, b: string | undefined): string | undefined =>
  a === undefined ? b : b === undefined || a <= b ? a : b;

function inboundFacts(event: EventOf<"InboundMessageReceived">): InboundFacts {
  const d = event.data;
  const errors = d.errors?.slice(0, 10).map((e) => e.code);
  return {
    ...stampOf(event),
    content: inboundSummary(d.message),
    ...(d.context?.id === undefined ? {} : { replyTo: d.context.id }),
    ...(d.referral === undefined
      ? {}
      : {
          referral: {
            ...(d.referral.sourceType === undefined
              ? {}
              : { sourceType: clip(d.referral.sourceType, 32) }),
            ctwa: d.referral.ctwaClid !== undefined,
          },
        }),
    ...(d.groupId === undefined ? {} : { groupId: clip(d.groupId, 256) }),
    ...(errors === undefined || errors.length === 0 ? {} : { errors }),
  };
}

function timelineEntry(event: EventOf<"StatusUpdated">): TimelineEntry {
  const d = event.data;
  const errors = d.errors?.slice(0, 5).map((e) => ({
    code: e.code,
    ...(e.title === undefined ? {} : { title: clip(e.title, 200) }),
  }));
  return {
    ...stampOf(event),
    status: d.status,
    ...(d.recipientParticipantId === undefined
      ? {}
      : { participant: clip(d.recipientParticipantId, 64) }),
    ...(errors === undefined || errors.length === 0 ? {} : { errors }),
    ...(d.pricing === undefined
      ? {}
      : {
          pricing: {
            pricingModel: clip(d.pricing.pricingModel, 32),
            category: clip(d.pricing.category, 64),
            ...(d.pricing.type === undefined ? {} : { type: clip(d.pricing.type, 64) }),
            ...(d.pricing.billable === undefined ? {} : { billable: d.pricing.billable }),
          },
        }),
  };
}

function mediaFacts(
  event: EventOf<"MediaStored" | "MediaFailed" | "MediaExpired" | "MediaDeleted">,
): MediaFacts {
  const base = { ...stampOf(event), mediaId: clip(event.data.mediaId, 256) };
  switch (event.type) {
    case "MediaStored":
      return {
        ...base,
        state: "stored",
        mimeType: clip(event.data.mimeType, 100),
        sizeBytes: event.data.sizeBytes,
      };
    case "MediaFailed":
      return { ...base, state: "failed", reason: event.data.reason };
    case "MediaExpired":
      return { ...base, state: "expired", reason: event.data.reason };
    case "MediaDeleted":
      return {
        ...base,
        state: "deleted",
        reason: event.data.reason,
        policy: clip(event.data.policy, 200),
      };
  }
}

/** The timeline bounded: the last entries of the order (highest ranks) stay. */
function boundTimeline(timeline: readonly TimelineEntry[]): readonly TimelineEntry[] {
  return timeline.length <= MESSAGE_LIMITS.timeline
    ? timeline
    : timeline.slice(timeline.length - MESSAGE_LIMITS.timeline);
}

/** Who and where the message is about: the smallest id seen of each (they agree in practice). */
function withParties(
  state: MessageState,
  parties: { contactId?: string; businessNumber?: string; country?: string },
): MessageState {
  const contactId = minOf(state.contactId, parties.contactId);
  const businessNumber = minOf(state.businessNumber, parties.businessNumber);
  const country = minOf(state.country, parties.country);
  if (
    contactId === state.contactId &&
    businessNumber === state.businessNumber &&
    country === state.country
  )
    return state;
  return {
    ...state,
    ...(contactId === undefined ? {} : { contactId }),
    ...(businessNumber === undefined ? {} : { businessNumber }),
    ...(country === undefined ? {} : { country }),
  };
}

function withTrace(state: MessageState, traceId: string | undefined, stamp: Stamp): MessageState {
  if (traceId === undefined) return state;
  const trace = earliestTrace(state.trace, { ...stamp, traceId });
  return trace === state.trace ? state : { ...state, trace };
}

/** The message read model's state after one command; the same object when unchanged. */
export function applyToMessage(state: MessageState, command: MessageCommand): MessageState {
  const next = isDrop(command) ? state : applyFacts(state, command);
  return withErasure(state, command, next, eraseMessage);
}

function applyFacts(
  state: MessageState,
  command: Exclude<MessageCommand, ContactDropped>,
): MessageState {
  let next = state;
  switch (command.type) {
    case "MessageLinked": {
      const link = state.link === undefined ? command.link : mergeLinks(state.link, command.link);
      if (JSON.stringify(link) !== JSON.stringify(state.link)) next = { ...next, link };
      next = withParties(next, {
        ...(link.contactId === undefined ? {} : { contactId: link.contactId }),
        ...(link.businessNumber === undefined ? {} : { businessNumber: link.businessNumber }),
        ...(link.country === undefined ? {} : { country: link.country }),
      });
      break;
    }
    case "WindowObserved":
      if (JSON.stringify(command.window) !== JSON.stringify(state.window))
        next = { ...next, window: command.window };
      next = withParties(next, { businessNumber: command.businessNumber });
      break;
    case "Observed": {
      const { event, traceId, country } = command;
      const parties = {
        ...(event.businessNumber === undefined ? {} : { businessNumber: event.businessNumber }),
        ...(country === undefined ? {} : { country }),
      };
      switch (event.type) {
        case "InboundMessageReceived": {
          const inbound = earliest(state.inbound, inboundFacts(event));
          if (inbound !== state.inbound) next = { ...next, inbound };
          next = withParties(next, { ...parties, contactId: event.data.contactId });
          break;
        }
        case "StatusUpdated": {
          const timeline = boundTimeline(applyStatus(state.timeline, timelineEntry(event)));
          if (timeline !== state.timeline) next = { ...next, timeline };
          const hint = event.data.bizOpaqueCallbackData;
          const requestHint =
            hint === undefined ? state.requestHint : minOf(state.requestHint, clip(hint, 512));
          if (requestHint !== state.requestHint && requestHint !== undefined)
            next = { ...next, requestHint };
          next = withParties(next, { ...parties, contactId: event.data.contactId });
          break;
        }
        case "MediaStored":
        case "MediaFailed":
        case "MediaExpired":
        case "MediaDeleted": {
          const media = latest(state.media, mediaFacts(event));
          if (media !== state.media) next = { ...next, media };
          next = withParties(next, { contactId: event.data.contactId });
          break;
        }
        default:
          return state;
      }
      // Every event about the message, whether or not it changed anything else: the earliest
      // one's trace must win in any arrival order.
      next = withTrace(next, traceId, stampOf(event));
      break;
    }
  }
  if (next === state) return state;
  const direction =
    next.inbound !== undefined
      ? "inbound"
      : next.link !== undefined || next.timeline.length > 0
        ? "outbound"
        : undefined;
  return direction === next.direction || direction === undefined ? next : { ...next, direction };
}

/**
 * Why: every message Meta knows by a wamid, inbound or outbound, with its status timeline applied
 * monotonically in any arrival order (invariant 4), its pricing, media and, for an inbound message
 * that opened a window, how soon the business answered: the facts the delivery and response
 * analytics count.
 */
export const messageDecider: Decider<
  MessageState,
  MessageCommand,
  MessageEvent,
  void,
  MessageOutput
> = {
  initialState: (wamid) => ({ wamid, timeline: [] }),
  decide(command, state) {
    const next = applyToMessage(state, command);
    if (next === state) return [];
    const events: MessageEvent[] = [appliedEvent(command, state, next)];
    const [was, is] = [bucketOfMessage(state), bucketOfMessage(next)];
    const n = next.timeline.length;
    const id = (bucket: string) => `message:${state.wamid}:bucket:${bucket}:${String(n)}`;
    if (was !== is && was !== undefined)
      events.push({ type: "BucketTouched", eventId: id(was), bucket: was });
    if (
      is !== undefined &&
      (was !== is || !sameContribution(messageContribution(state), messageContribution(next)))
    )
      events.push({ type: "BucketTouched", eventId: id(is), bucket: is });
    return events;
  },
  evolve: (state, event) =>
    event.type === "Applied"
      ? stateAfter(state, event, () => applyToMessage(state, event.command))
      : state,
  isPublished: (event): event is MessageOutput => event.type !== "Applied",
};

/** Whether `a` outranks `b` as a status (used by views that show the current status). */
export const outranks = (a: TimelineEntry, b: TimelineEntry): boolean =>
  STATUS_RANK[a.status] > STATUS_RANK[b.status] ||
  (STATUS_RANK[a.status] === STATUS_RANK[b.status] && compareStamps(a, b) < 0);
