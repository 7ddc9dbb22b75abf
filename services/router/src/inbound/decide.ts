import { createEvent, type AnyEvent, type EventOf } from "@parley/contracts";
import type { Decider } from "@parley/decider";
import { inboundIdentity, statusIdentity } from "./identity.js";
import { instantsAfter, keepAll } from "../instants.js";
import type { KeywordMatch } from "./keywords.js";

/**
 * The per-contact inbound decider. Its input is a fact parsed from a webhook; its output is what
 * the router publishes for that contact: the fact itself unless Meta already told us (invariant
 * 3), the customer-service window it opens or extends per business number, and consent from a
 * STOP/START reply or Meta's user_preferences webhook.
 */

/** Facts about one contact that the parser produces. */
export type ContactFact =
  EventOf<"InboundMessageReceived"> | EventOf<"StatusUpdated"> | EventOf<"UserPreferencesUpdated">;

/** Account, number and template facts: deduped per WABA by their content-derived event id. */
export type BusinessFact =
  | EventOf<"TemplateStatusUpdated">
  | EventOf<"TemplateQualityUpdated">
  | EventOf<"TemplateCategoryUpdated">
  | EventOf<"PhoneNumberQualityUpdated">
  | EventOf<"AccountUpdated">
  | EventOf<"BusinessCapabilityUpdated">
  | EventOf<"WebhookErrorsReceived">
  | EventOf<"UnknownWebhookFieldReceived">;

export type Fact = ContactFact | BusinessFact;

const CONTACT_FACTS = new Set<string>([
  "InboundMessageReceived",
  "StatusUpdated",
  "UserPreferencesUpdated",
]);
const BUSINESS_FACTS = new Set<string>([
  "TemplateStatusUpdated",
  "TemplateQualityUpdated",
  "TemplateCategoryUpdated",
  "PhoneNumberQualityUpdated",
  "AccountUpdated",
  "BusinessCapabilityUpdated",
  "WebhookErrorsReceived",
  "UnknownWebhookFieldReceived",
]);

export const isFact = (event: AnyEvent): event is Fact =>
  CONTACT_FACTS.has(event.type) || BUSINESS_FACTS.has(event.type);

/**
 * Whose state decides a fact: the contact's (wa_id or BSUID), or for business facts their WABA's
 * under a `waba:` key that no contact id can take.
 */
export const stateKeyOf = (fact: Fact): string =>
  "contactId" in fact.data ? fact.data.contactId : `waba:${fact.data.wabaId}`;

/** A dedupe identity and when its fact happened (for time-bounded expiry). */
export interface Seen {
  readonly id: string;
  readonly at: string;
}

export interface ServiceWindow {
  readonly businessNumber: string;
  readonly expiresAt: string;
  readonly lastMessage: string;
}

export interface ContactState {
  readonly contactId: string;
  /** Inbound message identities (by wamid), oldest first. */
  readonly messages: readonly Seen[];
  /** Status identities (wamid, status), oldest first. */
  readonly statuses: readonly Seen[];
  /** Other facts (user_preferences, business facts), by their content-derived event id. */
  readonly others: readonly Seen[];
  readonly windows: readonly ServiceWindow[];
}

export const initialState = (contactId: string): ContactState => ({
  contactId,
  messages: [],
  statuses: [],
  others: [],
  windows: [],
});

export interface DecideContext {
  readonly now: Date;
  /** The customer-service window's length (Meta: 24 h). */
  readonly windowMs: number;
  readonly matchKeyword: (text: string) => KeywordMatch;
  /**
   * Who decides consent (ADR 0012): "consent" (the consent service: a keyword reply is published
   * as ConsentKeywordReceived, user_preferences only as the fact) or "router" (the router's
   * own decisions, for a deployment without the consent service). Absent: "router".
   */
  readonly consentDecider?: "router" | "consent";
  /** Deterministic event ids from a name (UUIDv5), injected so this module stays pure. */
  readonly eventIdOf: (name: string) => string;
}

export type RouterEvent =
  | Fact
  | EventOf<"ConversationWindowOpened">
  | EventOf<"ConversationWindowExtended">
  | EventOf<"ConsentRevoked">
  | EventOf<"ConsentGranted">
  | EventOf<"ConsentKeywordReceived">;

const DERIVED = new Set<string>([
  "ConversationWindowOpened",
  "ConversationWindowExtended",
  "ConsentRevoked",
  "ConsentGranted",
  "ConsentKeywordReceived",
]);

/** Whether an event is one the inbound side publishes (a fact, or a window or consent event). */
export const isRouterEvent = (event: AnyEvent): event is RouterEvent =>
  isFact(event) || DERIVED.has(event.type);

/** Which events to publish for `fact`, given what this contact's state already holds. */
export function decide(fact: Fact, state: ContactState, ctx: DecideContext): RouterEvent[] {
  switch (fact.type) {
    case "InboundMessageReceived":
      if (has(state.messages, inboundIdentity(fact.data.wamid))) return [];
      return [fact, ...windowEvents(fact, state, ctx), ...keywordConsent(fact, ctx)];
    case "StatusUpdated":
      if (has(state.statuses, statusKeyOf(fact))) return [];
      return [fact];
    case "UserPreferencesUpdated":
      if (has(state.others, fact.eventId)) return [];
      return ctx.consentDecider === "consent" ? [fact] : [fact, ...preferenceConsent(fact, ctx)];
    default:
      return has(state.others, fact.eventId) ? [] : [fact];
  }
}

/** The state after `event`; unrelated events leave it as it is. */
export function evolve(state: ContactState, event: RouterEvent): ContactState {
  switch (event.type) {
    case "InboundMessageReceived":
      return {
        ...state,
        messages: [
          ...state.messages,
          { id: inboundIdentity(event.data.wamid), at: event.occurredAt },
        ],
      };
    case "StatusUpdated":
      return {
        ...state,
        statuses: [...state.statuses, { id: statusKeyOf(event), at: event.occurredAt }],
      };
    case "ConversationWindowOpened":
      return withWindow(state, event.businessNumber, event.data.expiresAt, event.data.openedBy);
    case "ConversationWindowExtended":
      return withWindow(state, event.businessNumber, event.data.expiresAt, event.data.extendedBy);
    case "ConsentRevoked":
    case "ConsentGranted":
    case "ConsentKeywordReceived":
      return state;
    default:
      return { ...state, others: [...state.others, { id: event.eventId, at: event.occurredAt }] };
  }
}

export interface RetentionLimits {
  /** Identities kept per contact (or WABA) and kind; the oldest go first. */
  readonly maxIds: number;
  /** Identities older than this (by the fact's own time) are forgotten (Meta retries for 7 days). */
  readonly ttlMs: number;
}

/**
 * Bounds the state: at most `maxIds` identities of each kind, none older than `ttlMs`, and no
 * window that closed before `now`. A forgotten identity that comes back (a replay months later)
 * is published again with the same deterministic event id, so consumers still see one event.
 */
export function retain(state: ContactState, now: Date, limits: RetentionLimits): ContactState {
  // Runs on every decision over up to maxIds identities per kind: no parse and no copy when
  // nothing goes (the store then sees the same list and writes only its new tail).
  const recent = instantsAfter(now.getTime() - limits.ttlMs, { inclusive: true });
  const keep = (list: readonly Seen[]) => {
    const kept = keepAll(list, (s) => recent(s.at));
    return kept.length > limits.maxIds ? kept.slice(-limits.maxIds) : kept;
  };
  return {
    ...state,
    messages: keep(state.messages),
    statuses: keep(state.statuses),
    others: keep(state.others),
    windows: keepAll(state.windows, (w) => Date.parse(w.expiresAt) > now.getTime()),
  };
}

/** The state without these identities (see ForgetFacts). */
export function forget(state: ContactState, ids: ReadonlySet<string>): ContactState {
  const keep = (list: readonly Seen[]) => list.filter((s) => !ids.has(s.id));
  return {
    ...state,
    messages: keep(state.messages),
    statuses: keep(state.statuses),
    others: keep(state.others),
  };
}

/**
 * Asks the contact to forget the facts behind events the publisher refused for good (dropped
 * from the outbox by the runtime, ADR 0010), so that a re-drive of their webhook after a fix
 * decides them again.
 */
export interface ForgetFacts {
  readonly type: "ForgetFacts";
  readonly dropped: readonly RouterEvent[];
}

/** Internal record (never published): these identities are no longer seen. */
export interface FactsForgotten {
  readonly type: "FactsForgotten";
  readonly ids: readonly string[];
}

export type InboundCommand = Fact | ForgetFacts;
export type InboundEvent = RouterEvent | FactsForgotten;

/**
 * The identity of the fact behind an event: the fact's own, or for a window or consent event the
 * fact that caused it (the message by its wamid, or the user_preferences fact by its event id).
 */
export function causingIdentity(event: RouterEvent): string | undefined {
  if (isFact(event)) return identityOf(event);
  switch (event.type) {
    case "ConversationWindowOpened":
      return inboundIdentity(event.data.openedBy);
    case "ConversationWindowExtended":
      return inboundIdentity(event.data.extendedBy);
    case "ConsentRevoked":
    case "ConsentGranted": {
      const wamid = event.data.evidence?.wamid;
      return wamid === undefined ? (event.causationId ?? undefined) : inboundIdentity(wamid);
    }
    case "ConsentKeywordReceived":
      return inboundIdentity(event.data.wamid);
  }
}

/**
 * The inbound decider as the runtime (`@parley/decider`) runs it: facts decided by `decide`,
 * forgetting by an internal record; everything else it decides is published.
 */
export const inboundDecider: Decider<
  ContactState,
  InboundCommand,
  InboundEvent,
  DecideContext,
  RouterEvent
> = {
  initialState,
  decide(command, state, ctx) {
    if (command.type !== "ForgetFacts") return decide(command, state, ctx);
    const seen = new Set([...state.messages, ...state.statuses, ...state.others].map((s) => s.id));
    const ids = [
      ...new Set(command.dropped.flatMap((event) => causingIdentity(event) ?? [])),
    ].filter((id) => seen.has(id));
    return ids.length === 0 ? [] : [{ type: "FactsForgotten", ids }];
  },
  evolve(state, event) {
    return event.type === "FactsForgotten"
      ? forget(state, new Set(event.ids))
      : evolve(state, event);
  },
  isPublished: (event): event is RouterEvent => event.type !== "FactsForgotten",
};

/** The identity a fact is remembered by (what `decide` dedupes on). */
function identityOf(fact: Fact): string {
  switch (fact.type) {
    case "InboundMessageReceived":
      return inboundIdentity(fact.data.wamid);
    case "StatusUpdated":
      return statusKeyOf(fact);
    default:
      return fact.eventId;
  }
}

const has = (list: readonly Seen[], id: string) => list.some((s) => s.id === id);

const statusKeyOf = (e: EventOf<"StatusUpdated">) =>
  statusIdentity(e.data.wamid, e.data.status, e.data.recipientParticipantId);

function withWindow(
  state: ContactState,
  businessNumber: string | undefined,
  expiresAt: string,
  lastMessage: string,
): ContactState {
  if (businessNumber === undefined) return state;
  return {
    ...state,
    windows: [
      ...state.windows.filter((w) => w.businessNumber !== businessNumber),
      { businessNumber, expiresAt, lastMessage },
    ],
  };
}

/** System notices (number changes, identity changes) are not user messages: no window. */
const OPENS_NO_WINDOW = new Set(["system"]);

function windowEvents(
  fact: EventOf<"InboundMessageReceived">,
  state: ContactState,
  ctx: DecideContext,
): RouterEvent[] {
  const businessNumber = fact.businessNumber;
  if (businessNumber === undefined || OPENS_NO_WINDOW.has(fact.data.message.type)) return [];
  const messageAt = Date.parse(fact.occurredAt);
  const expiresAtMs = messageAt + ctx.windowMs;
  // A message so old that its window has already closed (a late retry, a replay) opens nothing.
  if (expiresAtMs <= ctx.now.getTime()) return [];
  const expiresAt = new Date(expiresAtMs).toISOString();
  const meta = {
    correlationId: fact.correlationId,
    causationId: fact.eventId,
    businessNumber,
    occurredAt: fact.occurredAt,
    now: ctx.now,
  };
  const current = state.windows.find((w) => w.businessNumber === businessNumber);
  if (current !== undefined && Date.parse(current.expiresAt) > messageAt) {
    // Open when the message was sent: extend it, unless an earlier message arrived late.
    if (Date.parse(current.expiresAt) >= expiresAtMs) return [];
    return [
      createEvent(
        "ConversationWindowExtended",
        {
          contactId: fact.data.contactId,
          extendedBy: fact.data.wamid,
          previousExpiresAt: current.expiresAt,
          expiresAt,
        },
        { ...meta, eventId: ctx.eventIdOf(`window:${businessNumber}:${fact.data.wamid}`) },
      ),
    ];
  }
  const referral = fact.data.referral;
  return [
    createEvent(
      "ConversationWindowOpened",
      {
        contactId: fact.data.contactId,
        openedBy: fact.data.wamid,
        expiresAt,
        freeEntryPoint: referral?.ctwaClid !== undefined || referral?.sourceType === "ad",
      },
      { ...meta, eventId: ctx.eventIdOf(`window:${businessNumber}:${fact.data.wamid}`) },
    ),
  ];
}

/** WhatsApp's own limit on a text message: anything longer was not typed as a keyword. */
const MAX_KEYWORD_TEXT = 4_096;

function keywordConsent(
  fact: EventOf<"InboundMessageReceived">,
  ctx: DecideContext,
): RouterEvent[] {
  const message = fact.data.message;
  if (message.type !== "text") return [];
  // A cut text is judged on its prefix only: "STOP" + 2 MB of text must not read as STOP.
  if (fact.data.truncated !== undefined || message.text.body.length > MAX_KEYWORD_TEXT) return [];
  const match = ctx.matchKeyword(message.text.body);
  if (match === undefined) return [];
  if (ctx.consentDecider === "consent") {
    // The consent service decides (ADR 0012); the router only says what it recognised.
    return [
      createEvent(
        "ConsentKeywordReceived",
        {
          contactId: fact.data.contactId,
          wamid: fact.data.wamid,
          keyword: match,
          text: message.text.body,
        },
        {
          eventId: ctx.eventIdOf(`consent:keyword:${fact.data.wamid}`),
          correlationId: fact.correlationId,
          causationId: fact.eventId,
          occurredAt: fact.occurredAt,
          now: ctx.now,
          ...(fact.businessNumber === undefined ? {} : { businessNumber: fact.businessNumber }),
        },
      ),
    ];
  }
  const data = {
    contactId: fact.data.contactId,
    scope: "all" as const,
    channel: "whatsapp" as const,
    source: "keyword" as const,
    recordedBy: "router",
    evidence: { wamid: fact.data.wamid, text: message.text.body },
  };
  const meta = {
    eventId: ctx.eventIdOf(`consent:keyword:${fact.data.wamid}`),
    correlationId: fact.correlationId,
    causationId: fact.eventId,
    occurredAt: fact.occurredAt,
    now: ctx.now,
    ...(fact.businessNumber === undefined ? {} : { businessNumber: fact.businessNumber }),
  };
  return [
    match === "stop"
      ? createEvent("ConsentRevoked", data, meta)
      : createEvent("ConsentGranted", data, meta),
  ];
}

function preferenceConsent(
  fact: EventOf<"UserPreferencesUpdated">,
  ctx: DecideContext,
): RouterEvent[] {
  const choice = fact.data.value.toLowerCase();
  if (choice !== "stop" && choice !== "resume" && choice !== "signup") return [];
  const data = {
    contactId: fact.data.contactId,
    scope: "marketing" as const,
    channel: "whatsapp" as const,
    source: "user_preferences" as const,
    recordedBy: "router",
    evidence: {
      note: `${fact.data.category}: ${fact.data.value}${fact.data.detail ? ` (${fact.data.detail})` : ""}`,
    },
  };
  const meta = {
    eventId: ctx.eventIdOf(`consent:preferences:${fact.eventId}`),
    correlationId: fact.correlationId,
    causationId: fact.eventId,
    occurredAt: fact.occurredAt,
    now: ctx.now,
    ...(fact.businessNumber === undefined ? {} : { businessNumber: fact.businessNumber }),
  };
  return [
    choice === "stop"
      ? createEvent("ConsentRevoked", data, meta)
      : createEvent("ConsentGranted", data, meta),
  ];
}
