import { z } from "zod";
import { auditRecorded } from "./events/audit.js";
import { envelopeOf, type Envelope, type envelopeFields } from "./envelope.js";
import {
  consentGranted,
  consentKeywordReceived,
  consentRevoked,
  contactErased,
} from "./events/consent.js";
import { inboundMessageReceived } from "./events/inbound.js";
import { mediaDeleted, mediaExpired, mediaFailed, mediaStored } from "./events/media.js";
import { dispatchMessage, sendRequested } from "./events/outbound.js";
import {
  sendAccepted,
  sendDeduplicated,
  sendExpired,
  sendFailed,
  sendInDoubt,
  sendReconciled,
  sendRejected,
} from "./events/outcomes.js";
import { statusUpdated } from "./events/status.js";
import {
  accountUpdated,
  businessCapabilityUpdated,
  phoneNumberQualityUpdated,
  rawWebhookReceived,
  templateCategoryUpdated,
  templateQualityUpdated,
  templateStatusUpdated,
  userPreferencesUpdated,
  webhookErrorsReceived,
  unknownWebhookFieldReceived,
} from "./events/webhook.js";
import { conversationWindowExtended, conversationWindowOpened } from "./events/window.js";

/**
 * Every event: its data shape, the current schema version of that shape and a one-line purpose.
 * The key of this table is the event's `type` string, so event names are declared here only.
 * Raise `version` with every (compatible) change to `data`.
 */
const definitions = {
  AuditRecorded: {
    version: 2,
    data: auditRecorded,
    description:
      "A sensitive operation succeeded: through an API (consent change, import, export, erasure, media deletion, campaign control), a dead-letter re-drive, or a key ring or JWKS reloaded with changes: who, what, on which target.",
  },
  RawWebhookReceived: {
    version: 1,
    data: rawWebhookReceived,
    description: "A signed webhook POST as ingress received it, appended before the 200.",
  },
  RawStatusWebhookReceived: {
    version: 1,
    data: rawWebhookReceived,
    description:
      "A signed webhook POST that carries only delivery statuses (none failed), as ingress received it, appended before the 200 to the lane the router serves after messages and sends.",
  },
  InboundMessageReceived: {
    version: 2,
    data: inboundMessageReceived,
    description: "A contact sent a message (any type; unknown types keep Meta's payload).",
  },
  StatusUpdated: {
    version: 2,
    data: statusUpdated,
    description:
      "Meta reported a status (sent, delivered, read, played, failed) of a sent message.",
  },
  UserPreferencesUpdated: {
    version: 2,
    data: userPreferencesUpdated,
    description: "Meta's user_preferences webhook: the contact stopped or resumed marketing.",
  },
  UnknownWebhookFieldReceived: {
    version: 2,
    data: unknownWebhookFieldReceived,
    description: "A webhook field Parley does not model, kept whole and flagged.",
  },
  WebhookErrorsReceived: {
    version: 2,
    data: webhookErrorsReceived,
    description: "App or system level errors in a messages webhook (value.errors[]).",
  },
  TemplateStatusUpdated: {
    version: 2,
    data: templateStatusUpdated,
    description: "A message template was approved, rejected, paused, disabled, ...",
  },
  TemplateQualityUpdated: {
    version: 2,
    data: templateQualityUpdated,
    description: "A message template's quality score changed.",
  },
  TemplateCategoryUpdated: {
    version: 2,
    data: templateCategoryUpdated,
    description: "Meta re-categorised a message template.",
  },
  PhoneNumberQualityUpdated: {
    version: 3,
    data: phoneNumberQualityUpdated,
    description: "A business number's quality rating or messaging limit changed.",
  },
  AccountUpdated: {
    version: 2,
    data: accountUpdated,
    description: "Meta's account_update webhook (restrictions, violations, bans, ...).",
  },
  BusinessCapabilityUpdated: {
    version: 2,
    data: businessCapabilityUpdated,
    description: "The portfolio's messaging limit or number allowance changed.",
  },
  SendRequested: {
    version: 1,
    data: sendRequested,
    description: "A domain asks Parley to send a message to a contact.",
  },
  DispatchMessage: {
    version: 2,
    data: dispatchMessage,
    description: "Command from router to sender: call Graph for this request now.",
  },
  SendAccepted: {
    version: 2,
    data: sendAccepted,
    description:
      "Meta accepted the message and returned its wamid (terminal, unless a SendFailed async for this wamid, or a late template fallback's outcome, follows it: ADR 0009).",
  },
  SendRejected: {
    version: 1,
    data: sendRejected,
    description: "Parley refused the request before any Graph call (terminal outcome).",
  },
  SendFailed: {
    version: 3,
    data: sendFailed,
    description:
      "Graph refused the message (phase sync), or Meta failed it by webhook after accepting it (phase async, superseding the acceptance), with the classified error (terminal outcome).",
  },
  SendExpired: {
    version: 1,
    data: sendExpired,
    description:
      "The request's validUntil passed before it was handed to Graph (terminal outcome).",
  },
  SendInDoubt: {
    version: 1,
    data: sendInDoubt,
    description: "A Graph call's outcome is unknown; it will be reconciled, never resent.",
  },
  SendReconciled: {
    version: 2,
    data: sendReconciled,
    description: "An in-doubt send was resolved from a status webhook (terminal outcome).",
  },
  SendDeduplicated: {
    version: 1,
    data: sendDeduplicated,
    description:
      "The request repeated an idempotency key; the original request's outcome is the answer (terminal outcome).",
  },
  ConsentGranted: {
    version: 2,
    data: consentGranted,
    description: "The contact opted in.",
  },
  ConsentRevoked: {
    version: 2,
    data: consentRevoked,
    description: "The contact opted out; sends not yet handed to Graph stop.",
  },
  ConsentKeywordReceived: {
    version: 1,
    data: consentKeywordReceived,
    description: "A STOP or START reply the router recognised; the consent service decides.",
  },
  ContactErased: {
    version: 1,
    data: contactErased,
    description: "The contact's data key was destroyed: their consent data is unreadable.",
  },
  MediaStored: {
    version: 2,
    data: mediaStored,
    description: "Inbound media was downloaded, verified, encrypted and stored.",
  },
  MediaFailed: {
    version: 2,
    data: mediaFailed,
    description: "Media could not be downloaded, verified, stored or uploaded.",
  },
  MediaExpired: {
    version: 1,
    data: mediaExpired,
    description: "Stored media was deleted by retention or erasure (superseded by MediaDeleted).",
  },
  MediaDeleted: {
    version: 1,
    data: mediaDeleted,
    description:
      "A stored media object was deleted (retention, erasure or the media API), naming the policy that deleted it.",
  },
  ConversationWindowOpened: {
    version: 1,
    data: conversationWindowOpened,
    description: "An inbound message opened the contact's 24 h customer-service window.",
  },
  ConversationWindowExtended: {
    version: 1,
    data: conversationWindowExtended,
    description: "An inbound message reset an open customer-service window to 24 h.",
  },
} as const;

type Definitions = typeof definitions;
export type EventName = keyof Definitions;
export const eventNames = Object.keys(definitions) as readonly EventName[];

/** The data shape of event `N`. */
export type EventData<N extends EventName> = z.infer<Definitions[N]["data"]>;
/** The whole envelope of event `N`. */
export type EventOf<N extends EventName> = N extends EventName ? Envelope<N, EventData<N>> : never;
/** Any event. */
export type AnyEvent = EventOf<EventName>;

/** The zod schema of event `N`'s whole envelope. */
export type EventSchema<N extends EventName> = z.ZodObject<
  Omit<typeof envelopeFields, "type"> & { type: z.ZodLiteral<N>; data: Definitions[N]["data"] }
>;
type EventSchemas = { readonly [N in EventName]: EventSchema<N> };

function buildSchemas(): EventSchemas {
  const entries = eventNames.map((name) => {
    const { data, description } = definitions[name];
    return [name, envelopeOf(name, data, description)] as const;
  });
  return Object.freeze(Object.fromEntries(entries)) as unknown as EventSchemas;
}

/** The envelope schema of every event, by name. */
export const events: EventSchemas = buildSchemas();

/** The current schema version of each event's data. */
export const schemaVersions: { readonly [N in EventName]: number } = Object.freeze(
  Object.fromEntries(eventNames.map((n) => [n, definitions[n].version])) as {
    [N in EventName]: number;
  },
);

export const eventDescriptions: { readonly [N in EventName]: string } = Object.freeze(
  Object.fromEntries(eventNames.map((n) => [n, definitions[n].description])) as {
    [N in EventName]: string;
  },
);

export function isEventName(value: string): value is EventName {
  return Object.hasOwn(definitions, value);
}

export interface CreateEventMeta {
  readonly correlationId: string;
  readonly causationId?: string | null;
  readonly businessNumber?: string;
  readonly occurredAt?: Date | string;
  /** Recorded-at, and occurred-at unless given: passed in, never read from a clock here. */
  readonly now: Date;
  readonly eventId?: string;
  /** Defaults to crypto.randomUUID. */
  readonly generateId?: () => string;
}

/** Invalid data for an event; a programming error, never worth retrying. */
export class InvalidEventError extends Error {
  override readonly name = "InvalidEventError";
  readonly retriable = false;
  constructor(
    readonly eventType: string,
    readonly issues: readonly z.core.$ZodIssue[],
  ) {
    super(`invalid ${eventType}: ${z.prettifyError(new z.ZodError([...issues]))}`);
  }
}

/**
 * Builds an event envelope WITHOUT validating it: for a producer whose serde validates every
 * record on encode anyway (the one check on the produce path), so the event is not checked twice.
 * `data` is typed, but nothing here checks formats or bounds: use createEvent when the event is
 * used before it is encoded. Pure apart from the random event id, which can be injected.
 */
export function buildEvent<E extends EventName>(
  type: E,
  data: EventData<E>,
  meta: CreateEventMeta,
): EventOf<E> {
  const {
    correlationId,
    causationId = null,
    businessNumber,
    occurredAt,
    now,
    eventId,
    generateId = () => globalThis.crypto.randomUUID(),
  } = meta;
  const recordedAt = now.toISOString();
  const event = {
    eventId: eventId ?? generateId(),
    type,
    schemaVersion: definitions[type].version,
    occurredAt:
      occurredAt === undefined
        ? recordedAt
        : typeof occurredAt === "string"
          ? occurredAt
          : occurredAt.toISOString(),
    recordedAt,
    correlationId,
    causationId,
    ...(businessNumber === undefined ? {} : { businessNumber }),
    data,
  };
  return event as EventOf<E>;
}

/**
 * Builds a validated event envelope. Pure apart from the random event id, which can be injected.
 * Throws InvalidEventError when `data` does not match the event's schema.
 */
export function createEvent<E extends EventName>(
  type: E,
  data: EventData<E>,
  meta: CreateEventMeta,
): EventOf<E> {
  const candidate = buildEvent(type, data, meta);
  const schema: z.ZodType = events[type];
  const parsed = schema.safeParse(candidate);
  if (!parsed.success) throw new InvalidEventError(type, parsed.error.issues);
  return markValidated(parsed.data as EventOf<E>);
}

/**
 * Set (non-enumerable: never serialised, never copied by a spread) on the envelope objects that
 * createEvent and parseEvent return, which their schema has just accepted.
 */
const VALIDATED = Symbol("parley.validatedEvent");

function markValidated<T>(event: T): T {
  if (typeof event === "object" && event !== null && Object.isExtensible(event)) {
    Object.defineProperty(event, VALIDATED, { value: true });
  }
  return event;
}

/**
 * Whether `value` is an envelope object returned by createEvent or parseEvent, so its schema
 * accepted it already: a producer may skip checking it again (the serde checks each record once,
 * issue 31). Events are immutable once created; a copy (spread, JSON round trip) is not marked
 * and is checked in full.
 */
export function isValidatedEvent(value: unknown): value is AnyEvent {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { [VALIDATED]?: unknown })[VALIDATED] === true
  );
}

/** Parses any event by its `type`; throws InvalidEventError for unknown types or bad data. */
export function parseEvent(value: unknown): AnyEvent {
  const type =
    typeof value === "object" && value !== null && "type" in value ? String(value.type) : "";
  if (!isEventName(type)) {
    throw new InvalidEventError(type || "(no type)", [
      { code: "custom", message: `unknown event type "${type}"`, path: ["type"], input: type },
    ]);
  }
  const schema: z.ZodType = events[type];
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InvalidEventError(type, parsed.error.issues);
  return markValidated(parsed.data as AnyEvent);
}
