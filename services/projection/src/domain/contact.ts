import type { EventOf } from "@parley/contracts";
import { appliedEvent, stateAfter } from "./applied.js";
import type { Decider } from "@parley/decider";
import { eraseContact, withErasure } from "./erasure.js";
import type { Applied, Observed } from "./facts.js";
import {
  canonicalTime,
  clip,
  compareStamps,
  insertBounded,
  latest,
  maxTime,
  minTime,
  type Stamp,
} from "./order.js";

/** One id form Meta (or a requester) used for the person (ADR 0008: one contact, many spellings). */
export interface IdForm {
  /** `wa_id` (Meta's), `phone` (as a requester wrote it), `user_id` (BSUID), `parent_user_id`, `username`. */
  readonly kind: "wa_id" | "phone" | "user_id" | "parent_user_id" | "username";
  readonly value: string;
}

/** A consent fact as the audit keeps it. */
export interface ConsentFacts extends Stamp {
  readonly scope: "all" | "marketing";
  readonly state: "granted" | "revoked";
  readonly channel: string;
  readonly source: string;
  readonly businessNumber?: string;
  readonly businessName?: string;
  readonly recordedBy?: string;
  readonly evidence?: {
    readonly wamid?: string;
    readonly text?: string;
    readonly url?: string;
    readonly note?: string;
  };
}

export interface ContactState {
  readonly contactId: string;
  /** Every id form seen for the person, sorted (personal data: masked without `pii`). */
  readonly ids: readonly IdForm[];
  readonly profileName?: Stamp & { readonly value: string };
  /** The current consent per scope: the latest fact of each (with the event behind it). */
  readonly consent: readonly ConsentFacts[];
  /** The consent audit: the last facts by stamp. */
  readonly consentHistory: readonly ConsentFacts[];
  /** Meta's user_preferences (marketing stop/resume), the latest. */
  readonly preference?: Stamp & { readonly category: string; readonly value: string };
  /** First and last message exchanged (inbound, or accepted by Meta) or consent fact. */
  readonly firstSeenAt?: string;
  readonly lastSeenAt?: string;
  readonly lastInboundAt?: string;
  readonly lastOutboundAt?: string;
  readonly country?: string;
  /** The person was erased (ContactErased): only the consent facts without evidence stay. */
  readonly erased?: boolean;
}

export type ContactCommand = Observed;
export type ContactEvent = Applied<ContactCommand>;

export const CONTACT_LIMITS = { ids: 20, consentHistory: 50 } as const;

const stampOf = (event: { readonly occurredAt: string; readonly eventId: string }): Stamp => ({
  at: canonicalTime(event.occurredAt),
  eventId: event.eventId,
});

const idOrder = (a: IdForm, b: IdForm): number =>
  a.kind === b.kind
    ? a.value < b.value
      ? -1
      : a.value > b.value
        ? 1
        : 0
    : a.kind < b.kind
      ? -1
      : 1;

function withIds(state: ContactState, forms: readonly (IdForm | undefined)[]): ContactState {
  let ids = state.ids;
  for (const form of forms) {
    if (form === undefined || form.value === "") continue;
    ids = insertBounded(
      ids,
      { kind: form.kind, value: clip(form.value, 256) },
      { compare: idOrder, idOf: (f) => `${f.kind}:${f.value}`, max: CONTACT_LIMITS.ids },
    );
  }
  return ids === state.ids ? state : { ...state, ids };
}

const form = (kind: IdForm["kind"], value: string | undefined): IdForm | undefined =>
  value === undefined ? undefined : { kind, value };

function consentFacts(event: EventOf<"ConsentGranted" | "ConsentRevoked">): ConsentFacts {
  const d = event.data;
  const evidence = d.evidence;
  return {
    ...stampOf(event),
    scope: d.scope,
    state: event.type === "ConsentGranted" ? "granted" : "revoked",
    channel: d.channel,
    source: d.source,
    ...(event.businessNumber === undefined ? {} : { businessNumber: event.businessNumber }),
    ...(d.businessName === undefined ? {} : { businessName: clip(d.businessName, 200) }),
    ...(d.recordedBy === undefined ? {} : { recordedBy: clip(d.recordedBy, 200) }),
    ...(evidence === undefined
      ? {}
      : {
          evidence: {
            ...(evidence.wamid === undefined ? {} : { wamid: evidence.wamid }),
            ...(evidence.text === undefined ? {} : { text: clip(evidence.text, 200) }),
            ...(evidence.url === undefined ? {} : { url: clip(evidence.url, 500) }),
            ...(evidence.note === undefined ? {} : { note: clip(evidence.note, 500) }),
          },
        }),
  };
}

function withConsent(state: ContactState, fact: ConsentFacts): ContactState {
  const current = state.consent.find((c) => c.scope === fact.scope);
  const winner = latest(current, fact);
  const consent =
    winner === current
      ? state.consent
      : [...state.consent.filter((c) => c.scope !== fact.scope), fact].sort((a, b) =>
          a.scope < b.scope ? -1 : 1,
        );
  const consentHistory = insertBounded(state.consentHistory, fact, {
    compare: compareStamps,
    idOf: (c) => c.eventId,
    max: CONTACT_LIMITS.consentHistory,
  });
  if (consent === state.consent && consentHistory === state.consentHistory) return state;
  return { ...state, consent, consentHistory };
}

/** First and last seen, and the last inbound and outbound times: joins (min and max). */
function withTimes(
  state: ContactState,
  at: string,
  direction: "inbound" | "outbound" | undefined,
): ContactState {
  const firstSeenAt = minTime(state.firstSeenAt, at);
  const lastSeenAt = maxTime(state.lastSeenAt, at);
  const lastInboundAt =
    direction === "inbound" ? maxTime(state.lastInboundAt, at) : state.lastInboundAt;
  const lastOutboundAt =
    direction === "outbound" ? maxTime(state.lastOutboundAt, at) : state.lastOutboundAt;
  if (
    firstSeenAt === state.firstSeenAt &&
    lastSeenAt === state.lastSeenAt &&
    lastInboundAt === state.lastInboundAt &&
    lastOutboundAt === state.lastOutboundAt
  )
    return state;
  return {
    ...state,
    ...(firstSeenAt === undefined ? {} : { firstSeenAt }),
    ...(lastSeenAt === undefined ? {} : { lastSeenAt }),
    ...(lastInboundAt === undefined ? {} : { lastInboundAt }),
    ...(lastOutboundAt === undefined ? {} : { lastOutboundAt }),
  };
}

/** The contact read model's state after one observed event; the same object when unchanged. */
export function applyToContact(state: ContactState, command: Observed): ContactState {
  return withErasure(state, command, applyFacts(state, command), eraseContact);
}

function applyFacts(state: ContactState, { event, country }: Observed): ContactState {
  let next = state;
  const at = canonicalTime(event.occurredAt);
  switch (event.type) {
    case "InboundMessageReceived": {
      const c = event.data.contact;
      next = withIds(next, [
        form("wa_id", c.waId),
        form("user_id", c.userId),
        form("parent_user_id", c.parentUserId),
        form("username", c.username),
      ]);
      if (c.profileName !== undefined) {
        const profileName = latest(state.profileName, {
          ...stampOf(event),
          value: clip(c.profileName, 200),
        });
        if (profileName !== state.profileName) next = { ...next, profileName };
      }
      next = withTimes(next, at, "inbound");
      break;
    }
    case "StatusUpdated": {
      const d = event.data;
      next = withIds(next, [
        form("wa_id", d.recipientId),
        form("user_id", d.recipientUserId),
        form("parent_user_id", d.parentRecipientUserId),
        form("wa_id", d.contact?.waId),
        form("user_id", d.contact?.userId),
        form("username", d.contact?.username),
      ]);
      break;
    }
    case "SendRequested":
      next = withIds(next, [
        form("phone", event.data.recipient.phone),
        form("user_id", event.data.recipient.userId),
      ]);
      break;
    case "SendAccepted":
      next = withIds(next, [form("wa_id", event.data.waId)]);
      next = withTimes(next, at, "outbound");
      break;
    case "ConsentGranted":
    case "ConsentRevoked":
      next = withConsent(next, consentFacts(event));
      next = withTimes(next, at, undefined);
      break;
    case "UserPreferencesUpdated": {
      const preference = latest(state.preference, {
        ...stampOf(event),
        category: clip(event.data.category, 100),
        value: clip(event.data.value, 100),
      });
      if (preference !== state.preference) next = { ...next, preference };
      next = withTimes(next, at, undefined);
      break;
    }
    default:
      return state;
  }
  if (
    next !== state &&
    country !== undefined &&
    (next.country === undefined || country < next.country)
  )
    next = { ...next, country };
  return next;
}

/**
 * Why: one place that says who a contact is (every id form Meta used: ADR 0008), what they last
 * agreed to per purpose and on which event, and when they were first and last seen. Message
 * counts are counted from the messages read model when asked, so nothing here double counts.
 */
export const contactDecider: Decider<ContactState, ContactCommand, ContactEvent, void, never> = {
  initialState: (contactId) => ({ contactId, ids: [], consent: [], consentHistory: [] }),
  decide(command, state) {
    const next = applyToContact(state, command);
    return next === state ? [] : [appliedEvent(command, state, next)];
  },
  evolve: (state, event) => stateAfter(state, event, () => applyToContact(state, event.command)),
  isPublished: (_event): _event is never => false,
};
