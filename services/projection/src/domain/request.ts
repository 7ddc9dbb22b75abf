import type { Decider } from "@parley/decider";
import { appliedEvent, stateAfter } from "./applied.js";
import type { EventOf } from "@parley/contracts";
import { bucketOfRequest, requestContribution, sameContribution } from "./analytics.js";
import {
  isOutcome,
  type Applied,
  type BucketTouched,
  type ContactDropped,
  type MessageLink,
  type MessageLinked,
  type Observed,
  type OutcomeEvent,
} from "./facts.js";
import {
  canonicalTime,
  clip,
  compareStamps,
  earliestTrace,
  earliest,
  insertBounded,
  type Stamp,
} from "./order.js";
import { outboundSummary, type ContentSummary } from "./summary.js";
import { eraseRequest, isDrop, withErasure } from "./erasure.js";

/**
 * A request's final word as ADR 0009 states it. The rule lives in `@parley/client`
 * (`finalOutcome`); the read model is handed it (main.ts) rather than writing a second one.
 */
export interface FinalWord {
  readonly status: FinalStatus;
  readonly outcome?: OutcomeEvent | undefined;
  readonly inDoubt?: boolean | undefined;
  readonly wamid?: string | undefined;
  readonly phase?: "sync" | "async" | undefined;
  readonly code?: number | undefined;
  readonly retriable?: boolean | undefined;
  readonly usedTemplateFallback?: boolean | undefined;
  readonly originalRequestId?: string | undefined;
}
export type FinalStatus =
  "pending" | "accepted" | "failed" | "rejected" | "expired" | "deduplicated";
export type FinalOf = (requestId: string, outcomes: readonly OutcomeEvent[]) => FinalWord;

/**
 * Where a request stands, in one word: the final word when there is one (`reconciled` for an
 * in-doubt call resolved as sent), else how far it got (`in_doubt`, `dispatched`, `requested`).
 */
export type Decision =
  | "requested"
  | "dispatched"
  | "in_doubt"
  | "accepted"
  | "reconciled"
  | "rejected"
  | "failed"
  | "expired"
  | "deduplicated"
  | "unknown";

/** The final word as the read model keeps it (what the query API and the send API's GET show). */
export interface FinalSummary {
  readonly status: FinalStatus;
  readonly outcomeType?: string;
  readonly at?: string;
  readonly wamid?: string;
  readonly phase?: "sync" | "async";
  readonly code?: number;
  readonly title?: string;
  readonly reason?: string;
  readonly detail?: string;
  readonly retriable?: boolean;
  readonly retryHint?: string;
  readonly usedTemplateFallback?: boolean;
  readonly originalRequestId?: string;
  readonly inDoubt?: boolean;
}

/** What the SendRequested said (the earliest, should a request id ever be reused). */
export interface RequestFacts extends Stamp {
  readonly contactId: string;
  readonly idempotencyKey: string;
  readonly requester?: string;
  readonly category: string;
  readonly sender: { readonly kind: string; readonly id: string };
  readonly recipient: { readonly phone?: string; readonly userId?: string };
  readonly content: ContentSummary;
  readonly templateFallback?: { readonly name: string; readonly language: string };
  readonly validUntil?: string;
  readonly replyTo?: string;
  /** Caller metadata as [key, value] pairs (keys are the caller's: never document field names). */
  readonly metadata?: readonly (readonly [string, string])[];
}

/** A DispatchMessage for the request (the router's, and a late template fallback's). */
export interface DispatchFacts extends Stamp {
  readonly businessNumber?: string;
  readonly to: string;
  readonly toKind: string;
  readonly usedTemplateFallback: boolean;
  readonly template?: string;
  readonly consentEventId?: string;
}

export interface RequestState {
  readonly requestId: string;
  readonly request?: RequestFacts;
  readonly dispatches: readonly DispatchFacts[];
  /** The request's outcomes, once each, by stamp; metadata dropped and texts clipped. */
  readonly outcomes: readonly OutcomeEvent[];
  readonly final: FinalSummary;
  readonly decision: Decision;
  readonly country?: string;
  /** The trace of the SendRequested (else of the earliest event seen): see traceOf. */
  readonly trace?: TraceFacts;
  /** Its contact was erased: no recipient, content or caller metadata stay (see erasure.ts). */
  readonly erased?: boolean;
}

/** A trace id and the event it came with: the request's own trace wins, then the earliest. */
export interface TraceFacts extends Stamp {
  readonly traceId: string;
  readonly fromRequest: boolean;
}

/** Of two traces, the SendRequested's, else the earliest (the same choice in any order). */
export function pickTrace(a: TraceFacts | undefined, b: TraceFacts): TraceFacts {
  if (a === undefined) return b;
  if (a.fromRequest !== b.fromRequest) return a.fromRequest ? a : b;
  return earliestTrace(a, b);
}

export type RequestCommand = Observed | ContactDropped;
export type RequestOutput = MessageLinked | BucketTouched;
export type RequestEvent = Applied<RequestCommand> | RequestOutput;

export const REQUEST_LIMITS = { outcomes: 20, dispatches: 10, metadataBytes: 4_096 } as const;

const MAX_TEXT = 1_000;

const stampOf = (event: { readonly occurredAt: string; readonly eventId: string }): Stamp => ({
  at: canonicalTime(event.occurredAt),
  eventId: event.eventId,
});

/** Caller metadata kept only when small: it is echoed on every outcome, kept once here. */
function boundedMetadata(
  metadata: Readonly<Record<string, string>> | undefined,
): readonly (readonly [string, string])[] | undefined {
  if (metadata === undefined) return undefined;
  const entries = Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const size = entries.reduce((n, [k, v]) => n + k.length + v.length, 0);
  return size <= REQUEST_LIMITS.metadataBytes && entries.length > 0 ? entries : undefined;
}

function requestFacts(event: EventOf<"SendRequested">): RequestFacts {
  const d = event.data;
  const summary = outboundSummary(d.content);
  const metadata = boundedMetadata(d.metadata);
  return {
    ...stampOf(event),
    contactId: d.contactId,
    idempotencyKey: d.idempotencyKey,
    ...(d.requester === undefined ? {} : { requester: d.requester }),
    category: d.category,
    sender:
      d.sender.kind === "businessNumber"
        ? { kind: "businessNumber", id: d.sender.phoneNumberId }
        : { kind: "alias", id: d.sender.alias },
    recipient: {
      ...(d.recipient.phone === undefined ? {} : { phone: d.recipient.phone }),
      ...(d.recipient.userId === undefined ? {} : { userId: clip(d.recipient.userId, 256) }),
    },
    content: summary,
    ...(d.templateFallback === undefined
      ? {}
      : {
          templateFallback: {
            name: clip(d.templateFallback.name, 512),
            language: clip(d.templateFallback.language.code, 32),
          },
        }),
    ...(d.validUntil === undefined ? {} : { validUntil: canonicalTime(d.validUntil) }),
    ...(d.replyTo === undefined ? {} : { replyTo: d.replyTo }),
    ...(metadata === undefined ? {} : { metadata }),
  };
}

function dispatchFacts(event: EventOf<"DispatchMessage">): DispatchFacts {
  const d = event.data;
  return {
    ...stampOf(event),
    ...(event.businessNumber === undefined ? {} : { businessNumber: event.businessNumber }),
    to: d.to,
    toKind: d.toKind,
    usedTemplateFallback: d.usedTemplateFallback,
    ...(d.content.type === "template" ? { template: clip(d.content.template.name, 512) } : {}),
    ...(d.consentEventId === undefined ? {} : { consentEventId: d.consentEventId }),
  };
}

/** An outcome as the read model keeps it: no metadata (the request has it), texts clipped. */
export function trimOutcome(event: OutcomeEvent): OutcomeEvent {
  const data = { ...event.data } as Record<string, unknown>;
  delete data["metadata"];
  if (typeof data["detail"] === "string") data["detail"] = clip(data["detail"], MAX_TEXT);
  const error = data["error"];
  if (typeof error === "object" && error !== null) {
    const e = { ...(error as Record<string, unknown>) };
    for (const field of ["title", "details", "retryHint", "fbtraceId"]) {
      if (typeof e[field] === "string") e[field] = clip(e[field], MAX_TEXT);
    }
    data["error"] = e;
  }
  return {
    ...event,
    occurredAt: canonicalTime(event.occurredAt),
    data,
  } as OutcomeEvent;
}

const outcomeOrder = (a: OutcomeEvent, b: OutcomeEvent): number =>
  compareStamps(stampOf(a), stampOf(b));

/** The final word and the one-word decision, from the outcomes and what else is known. */
export function summarise(
  state: Pick<RequestState, "requestId" | "request" | "dispatches" | "outcomes">,
  finalOf: FinalOf,
): { final: FinalSummary; decision: Decision } {
  const word = finalOf(state.requestId, state.outcomes);
  const o = word.outcome;
  const data = (o?.data ?? {}) as Record<string, unknown>;
  const error = data["error"] as
    { code?: number; title?: string; retriable?: boolean; retryHint?: string } | undefined;
  const final: FinalSummary = {
    status: word.status,
    ...(o === undefined ? {} : { outcomeType: o.type, at: o.occurredAt }),
    ...(word.wamid === undefined ? {} : { wamid: word.wamid }),
    ...(word.phase === undefined ? {} : { phase: word.phase }),
    ...(word.code === undefined ? {} : { code: word.code }),
    ...(error?.title === undefined ? {} : { title: error.title }),
    ...(typeof data["reason"] === "string" ? { reason: data["reason"] } : {}),
    ...(typeof data["detail"] === "string" ? { detail: data["detail"] } : {}),
    ...(word.retriable === undefined ? {} : { retriable: word.retriable }),
    ...(error?.retryHint === undefined ? {} : { retryHint: error.retryHint }),
    ...(word.usedTemplateFallback === undefined
      ? {}
      : { usedTemplateFallback: word.usedTemplateFallback }),
    ...(word.originalRequestId === undefined ? {} : { originalRequestId: word.originalRequestId }),
    ...(word.inDoubt === true ? { inDoubt: true } : {}),
  };
  let decision: Decision;
  switch (word.status) {
    case "accepted":
      decision = o?.type === "SendReconciled" ? "reconciled" : "accepted";
      break;
    case "pending":
      decision =
        word.inDoubt === true
          ? "in_doubt"
          : state.dispatches.length > 0
            ? "dispatched"
            : state.request !== undefined
              ? "requested"
              : "unknown";
      break;
    default:
      decision = word.status;
  }
  return { final, decision };
}

/** The messages a request's outcomes name, with what the request knows of each. */
export function linksOf(state: RequestState): ReadonlyMap<string, MessageLink> {
  const links = new Map<string, MessageLink>();
  const request = state.request;
  const firstDispatch = state.dispatches[0];
  const contactId =
    state.erased === true ? undefined : (request?.contactId ?? state.outcomes[0]?.data.contactId);
  const base = (outcomeNumber: string | undefined): MessageLink => {
    const businessNumber = outcomeNumber ?? firstDispatch?.businessNumber;
    return {
      requestId: state.requestId,
      ...(contactId === undefined ? {} : { contactId }),
      ...(state.country === undefined ? {} : { country: state.country }),
      ...(businessNumber === undefined ? {} : { businessNumber }),
      ...(request?.requester === undefined ? {} : { requester: request.requester }),
      ...(request === undefined ? {} : { category: request.category }),
    };
  };
  const templateOf = (fallback: boolean): string | undefined =>
    fallback ? request?.templateFallback?.name : request?.content.template;
  const put = (wamid: string, link: MessageLink) => {
    const known = links.get(wamid);
    links.set(wamid, known === undefined ? link : mergeLinks(known, link));
  };
  for (const o of state.outcomes) {
    const at = o.occurredAt;
    switch (o.type) {
      case "SendAccepted": {
        const template = templateOf(o.data.usedTemplateFallback);
        put(o.data.wamid, {
          ...base(o.businessNumber),
          ...(template === undefined ? {} : { template }),
          usedTemplateFallback: o.data.usedTemplateFallback,
          acceptedAt: at,
        });
        if (o.data.fallbackAfter !== undefined)
          put(o.data.fallbackAfter.wamid, base(o.businessNumber));
        break;
      }
      case "SendReconciled": {
        const fallback = firstDispatch?.usedTemplateFallback ?? false;
        const template = templateOf(fallback);
        put(o.data.wamid, {
          ...base(o.businessNumber),
          ...(template === undefined ? {} : { template }),
          usedTemplateFallback: fallback,
          ...(o.data.result === "sent" ? { acceptedAt: at } : {}),
        });
        break;
      }
      case "SendFailed":
        if (o.data.wamid !== undefined) put(o.data.wamid, base(o.businessNumber));
        if (o.data.fallbackAfter !== undefined)
          put(o.data.fallbackAfter.wamid, base(o.businessNumber));
        break;
      default:
        break;
    }
  }
  return links;
}

/**
 * Two links of one message merged field by field: a known value wins over an unknown one, and of
 * two known values the smaller (the same result in any order; they agree in practice).
 */
export function mergeLinks(a: MessageLink, b: MessageLink): MessageLink {
  const pick = <T extends string | boolean>(x: T | undefined, y: T | undefined): T | undefined =>
    x === undefined ? y : y === undefined ? x : y < x ? y : x;
  const merged: Record<string, unknown> = {};
  for (const field of [
    "requestId",
    "contactId",
    "country",
    "businessNumber",
    "requester",
    "template",
    "category",
    "usedTemplateFallback",
    "acceptedAt",
  ] as const) {
    const value = pick(a[field], b[field]);
    if (value !== undefined) merged[field] = value;
  }
  return merged as unknown as MessageLink;
}

const sameLink = (a: MessageLink | undefined, b: MessageLink | undefined): boolean =>
  JSON.stringify(a) === JSON.stringify(b);

/** The request read model's state after one observed event; the same object when unchanged. */
export function applyToRequest(
  state: RequestState,
  command: RequestCommand,
  finalOf: FinalOf,
): RequestState {
  const erase = (s: RequestState): RequestState => {
    const stripped = eraseRequest(s);
    return { ...stripped, ...summarise(stripped, finalOf) };
  };
  const next = isDrop(command) ? state : applyFacts(state, command, finalOf);
  return withErasure(state, command, next, erase);
}

function applyFacts(
  state: RequestState,
  { event, traceId, country }: Observed,
  finalOf: FinalOf,
): RequestState {
  let next = state;
  if (event.type === "SendRequested") {
    const request = earliest(state.request, requestFacts(event));
    if (request !== state.request) next = { ...next, request };
  } else if (event.type === "DispatchMessage") {
    const dispatches = insertBounded(state.dispatches, dispatchFacts(event), {
      compare: compareStamps,
      idOf: (d) => d.eventId,
      max: REQUEST_LIMITS.dispatches,
    });
    if (dispatches !== state.dispatches) next = { ...next, dispatches };
  } else if (isOutcome(event)) {
    const outcomes = insertBounded(state.outcomes, trimOutcome(event), {
      compare: outcomeOrder,
      idOf: (o) => o.eventId,
      max: REQUEST_LIMITS.outcomes,
    });
    if (outcomes !== state.outcomes) next = { ...next, outcomes };
  } else {
    return state;
  }
  if (next === state) return state;
  if (country !== undefined && (next.country === undefined || country < next.country))
    next = { ...next, country };
  if (traceId !== undefined) {
    const trace = pickTrace(next.trace, {
      ...stampOf(event),
      traceId,
      fromRequest: event.type === "SendRequested",
    });
    if (trace !== next.trace) next = { ...next, trace };
  }
  const { final, decision } = summarise(next, finalOf);
  return { ...next, final, decision };
}

const touch = (requestId: string, bucket: string, n: number): BucketTouched => ({
  type: "BucketTouched",
  eventId: `request:${requestId}:bucket:${bucket}:${String(n)}`,
  bucket,
});

/**
 * Why: the send request ledger (`GET /v1/messages/{requestId}` on the send API answers from it)
 * and the source of what each of its messages was (template, category, sender) for analytics.
 * Every field is a join of the request's events (the earliest request, every outcome once by
 * stamp), so it ends the same in any arrival order; what changes for a message is handed on.
 */
export function requestDecider(
  finalOf: FinalOf,
): Decider<RequestState, RequestCommand, RequestEvent, void, RequestOutput> {
  return {
    initialState: (requestId) => ({
      requestId,
      dispatches: [],
      outcomes: [],
      final: { status: "pending" },
      decision: "unknown",
    }),
    decide(command, state) {
      const next = applyToRequest(state, command, finalOf);
      if (next === state) return [];
      const events: RequestEvent[] = [appliedEvent(command, state, next)];
      const before = linksOf(state);
      const n = next.outcomes.length + next.dispatches.length + (next.request ? 1 : 0);
      for (const [wamid, link] of linksOf(next)) {
        if (sameLink(before.get(wamid), link)) continue;
        events.push({
          type: "MessageLinked",
          eventId: `request:${state.requestId}:link:${wamid}:${String(n)}`,
          wamid,
          link,
        });
      }
      const [was, is] = [bucketOfRequest(state), bucketOfRequest(next)];
      if (was !== is && was !== undefined) events.push(touch(state.requestId, was, n));
      if (
        is !== undefined &&
        (was !== is || !sameContribution(requestContribution(state), requestContribution(next)))
      )
        events.push(touch(state.requestId, is, n));
      return events;
    },
    evolve: (state, event) =>
      event.type === "Applied"
        ? stateAfter(state, event, () => applyToRequest(state, event.command, finalOf))
        : state,
    isPublished: (event): event is RequestOutput => event.type !== "Applied",
  };
}
