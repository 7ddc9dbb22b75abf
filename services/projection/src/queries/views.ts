import { maskPhoneNumber } from "@parley/cloud-api";
import type { ContactState } from "../domain/contact.js";
import type { WindowView } from "../domain/facts.js";
import type { MessageState } from "../domain/message.js";
import type { OutcomeEvent } from "../domain/facts.js";
import type { FinalSummary, RequestState } from "../domain/request.js";
import type { Pricing, TimelineEntry } from "../domain/statuses.js";
import type { ContentSummary } from "../domain/summary.js";
import type { ConversationState } from "../domain/conversation.js";
import type { TemplateState } from "../domain/template.js";
import type { ReadDocument } from "./reader.js";

/**
 * The query API's representations of the read models. Without the `pii` scope a caller sees
 * phone numbers masked (contact ids, wa_ids, recipients: first 3 and last 2 digits), and no
 * profile names, message previews or consent evidence text; ids that are not phone numbers
 * (BSUIDs, wamids, request ids) are shown as they are.
 */
export interface Audience {
  readonly pii: boolean;
}

const PHONE = /^\+?[\d\s\-().]{6,}$/;

/** A value that is a phone number, masked unless the caller may see personal data. */
export function phone(value: string | undefined, { pii }: Audience): string | undefined {
  if (value === undefined || pii || !PHONE.test(value)) return value;
  return maskPhoneNumber(value);
}

const personal = <T>(value: T | undefined, { pii }: Audience): T | undefined =>
  pii ? value : undefined;

/** Drops undefined fields, so absent facts are absent from the JSON. */
function compact<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function contentView(content: ContentSummary | undefined, audience: Audience) {
  if (content === undefined) return undefined;
  return compact({
    type: content.type,
    template: content.template,
    language: content.language,
    detail: content.detail,
    preview: personal(content.preview, audience),
  });
}

export const timelineView = (timeline: readonly TimelineEntry[]) =>
  timeline.map((e) =>
    compact({
      status: e.status,
      at: e.at,
      participant: e.participant,
      errors: e.errors,
      pricing: e.pricing,
    }),
  );

export function outcomeView(o: OutcomeEvent) {
  const d = o.data as Record<string, unknown>;
  const error = d["error"] as Record<string, unknown> | undefined;
  return compact({
    type: o.type,
    at: o.occurredAt,
    eventId: o.eventId,
    wamid: d["wamid"],
    reason: d["reason"],
    detail: d["detail"],
    phase: d["phase"],
    result: d["result"],
    status: d["status"],
    attempts: d["attempts"],
    usedTemplateFallback: d["usedTemplateFallback"],
    fallbackAfter: d["fallbackAfter"],
    originalRequestId: d["originalRequestId"],
    consentEventId: d["consentEventId"],
    error:
      error === undefined
        ? undefined
        : compact({
            errorClass: error["errorClass"],
            code: error["code"],
            title: error["title"],
            retriable: error["retriable"],
            retryHint: error["retryHint"],
          }),
  });
}

/** An outbound message's part in its request's answer: its status and timeline. */
export function messageSummary(doc: ReadDocument) {
  const m = doc as unknown as MessageState & { status?: string; pricing?: Pricing };
  return compact({
    wamid: m.wamid,
    status: m.status,
    acceptedAt: m.link?.acceptedAt,
    usedTemplateFallback: m.link?.usedTemplateFallback,
    template: m.link?.template,
    timeline: timelineView(m.timeline),
    pricing: m.pricing,
  });
}

export function finalView(final: FinalSummary) {
  return compact({ ...final });
}

export function requestView(
  doc: ReadDocument,
  audience: Audience,
  extra: {
    readonly messages: readonly ReadDocument[];
    readonly consent?: unknown;
    readonly original?: { readonly requestId: string; readonly final: FinalSummary };
  },
) {
  const r = doc as unknown as RequestState & { contactId?: string; businessNumber?: string };
  const request = r.request;
  const consentEventId =
    r.outcomes.map((o) => o.data.consentEventId).find((id): id is string => id !== undefined) ??
    r.dispatches.find((d) => d.consentEventId !== undefined)?.consentEventId;
  const order = new Map((doc["wamids"] as string[] | undefined)?.map((w, i) => [w, i]) ?? []);
  return compact({
    requestId: r.requestId,
    status: r.decision,
    final: finalView(r.final),
    original: extra.original,
    contactId: phone(r.contactId, audience),
    idempotencyKey: request?.idempotencyKey ?? r.outcomes[0]?.data.idempotencyKey,
    requester: request?.requester,
    requestedAt: request?.at,
    businessNumber: r.businessNumber,
    category: request?.category,
    sender: request?.sender,
    recipient:
      request === undefined
        ? undefined
        : compact({
            phone: phone(request.recipient.phone, audience),
            userId: request.recipient.userId,
          }),
    content: contentView(request?.content, audience),
    templateFallback: request?.templateFallback,
    validUntil: request?.validUntil,
    replyTo: request?.replyTo,
    metadata: request?.metadata === undefined ? undefined : Object.fromEntries(request.metadata),
    dispatches: r.dispatches.map((d) =>
      compact({
        at: d.at,
        businessNumber: d.businessNumber,
        to: d.toKind === "phone" ? phone(d.to, audience) : d.to,
        toKind: d.toKind,
        usedTemplateFallback: d.usedTemplateFallback,
        template: d.template,
        consentEventId: d.consentEventId,
      }),
    ),
    outcomes: r.outcomes.map(outcomeView),
    consentEventId,
    consent: extra.consent,
    traceId: r.trace?.traceId,
    messages: [...extra.messages]
      .sort((a, b) => (order.get(a._id) ?? 0) - (order.get(b._id) ?? 0))
      .map(messageSummary),
  });
}

export function messageView(doc: ReadDocument, audience: Audience) {
  const m = doc as unknown as MessageState & {
    status?: string;
    requestId?: string;
    pricing?: Pricing;
    sortAt?: string;
  };
  return compact({
    wamid: m.wamid,
    direction: m.direction,
    status: m.status,
    at: m.sortAt,
    contactId: phone(m.contactId, audience),
    businessNumber: m.businessNumber,
    country: m.country,
    requestId: m.requestId,
    template: m.link?.template,
    category: m.link?.category,
    usedTemplateFallback: m.link?.usedTemplateFallback,
    acceptedAt: m.link?.acceptedAt,
    content: contentView(m.inbound?.content, audience),
    replyTo: m.inbound?.replyTo,
    referral: m.inbound?.referral,
    groupId: m.inbound?.groupId,
    errors: m.inbound?.errors,
    timeline: m.direction === "inbound" ? undefined : timelineView(m.timeline),
    pricing: m.pricing,
    media: m.media,
    window: m.window === undefined ? undefined : windowView(m.window),
    traceId: m.trace?.traceId,
  });
}

function windowView(w: WindowView) {
  const responseMs =
    w.firstResponseAt === undefined
      ? undefined
      : Date.parse(w.firstResponseAt) - Date.parse(w.openedAt);
  return compact({ ...w, responseMs });
}

export function contactView(
  doc: ReadDocument,
  audience: Audience,
  counts: { readonly inbound: number; readonly outbound: number; readonly requests: number },
) {
  const c = doc as unknown as ContactState;
  const consentView = (f: ContactState["consent"][number]) =>
    compact({
      ...f,
      evidence:
        f.evidence === undefined
          ? undefined
          : compact({ ...f.evidence, text: personal(f.evidence.text, audience) }),
    });
  return compact({
    contactId: phone(c.contactId, audience),
    erased: c.erased,
    country: c.country,
    ids: c.ids.map((f) => ({
      kind: f.kind,
      value: f.kind === "wa_id" || f.kind === "phone" ? phone(f.value, audience) : f.value,
    })),
    profileName: personal(c.profileName?.value, audience),
    consent: c.consent.map(consentView),
    consentHistory: c.consentHistory.map(consentView),
    preference: c.preference,
    firstSeenAt: c.firstSeenAt,
    lastSeenAt: c.lastSeenAt,
    lastInboundAt: c.lastInboundAt,
    lastOutboundAt: c.lastOutboundAt,
    counts,
  });
}

export function conversationView(doc: ReadDocument, audience: Audience) {
  const c = doc as unknown as ConversationState & { windowViews?: WindowView[]; sortAt?: string };
  return compact({
    contactId: phone(c.contactId, audience),
    businessNumber: c.businessNumber,
    lastActivityAt: c.sortAt,
    lastInbound: c.lastInbound,
    lastOutbound: c.lastOutbound,
    windows: (c.windowViews ?? []).map(windowView),
  });
}

export function templateView(doc: ReadDocument) {
  const t = doc as unknown as TemplateState;
  return compact({
    wabaId: t.wabaId,
    templateId: t.templateId,
    name: t.name?.value,
    language: t.name?.language,
    status: t.status,
    firstDecision: t.firstDecision,
    category: t.category?.value,
    quality: t.quality?.value,
  });
}
