import type { AnyEvent } from "@parley/contracts";
import { ParleyError } from "@parley/errors";
import { countryOfContact, type RateCard } from "@parley/pricing";
import { createCostTable, type CostTable } from "./cost.js";

/** The campaign id and contact of an idempotency key `campaign:<id>:<contact>` (plan.ts). */
const CAMPAIGN_KEY = /^campaign:([^:]*):(.*)$/s;
const CAMPAIGN_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** An outcome or status the progress fold refuses: dead-lettered with this reason. */
export class ProgressEventError extends ParleyError {
  override readonly name = "ProgressEventError";
  constructor(message: string, context: Readonly<Record<string, unknown>> = {}) {
    super(message, { retry: "never", context });
  }
}

/** Status ranks: a later status never goes back (read > delivered > sent). */
export const statusRanks = { sent: 1, delivered: 2, read: 3, played: 3 } as const;

/**
 * What one outcome or status says about one campaign send. Facts join: each field only grows
 * (a flag set, a rank raised, the least failure code, the greatest pricing key), so any order and
 * any repetition of the same facts give the same state.
 */
export interface DeliveryFact {
  readonly requestId: string;
  readonly contactId: string;
  /** Meta took the message (SendAccepted, SendReconciled sent). */
  readonly accepted?: true;
  /** The request's failure: Meta's code, the class without one, `rejected:<reason>`, `expired`. */
  readonly failure?: string;
  readonly statusRank?: number;
  /** `category/type` of the status's pricing (`type` from `billable` on old webhooks). */
  readonly pricing?: string;
}

export interface DeliveryState {
  readonly requestId: string;
  readonly campaignId: string;
  readonly contactId: string;
  readonly accepted: boolean;
  readonly failure?: string;
  readonly statusRank: number;
  readonly pricing?: string;
}

const least = (a: string | undefined, b: string | undefined) =>
  a === undefined ? b : b === undefined ? a : a < b ? a : b;
const greatest = (a: string | undefined, b: string | undefined) =>
  a === undefined ? b : b === undefined ? a : a > b ? a : b;

/** The join of a send's state and a fact (commutative, associative, idempotent). */
export function mergeDelivery(
  state: DeliveryState | undefined,
  campaignId: string,
  fact: DeliveryFact,
): DeliveryState {
  const failure = least(state?.failure, fact.failure);
  const pricing = greatest(state?.pricing, fact.pricing);
  return {
    requestId: fact.requestId,
    campaignId,
    contactId: state?.contactId ?? fact.contactId,
    accepted: (state?.accepted ?? false) || fact.accepted === true,
    statusRank: Math.max(state?.statusRank ?? 0, fact.statusRank ?? 0),
    ...(failure === undefined ? {} : { failure }),
    ...(pricing === undefined ? {} : { pricing }),
  };
}

/**
 * The campaign send an outcome is about, with what it says; undefined for outcomes of other
 * requests (not `campaign:` keys) and for outcomes that say nothing final (in doubt, deduplicated:
 * the original request's outcome is the answer). A `campaign:` key that names no valid campaign
 * or disagrees with the outcome's contact is hostile.
 */
export function outcomeFactOf(
  event: AnyEvent,
): { readonly campaignId: string; readonly fact: DeliveryFact } | undefined {
  switch (event.type) {
    case "SendAccepted":
    case "SendReconciled":
    case "SendFailed":
    case "SendRejected":
    case "SendExpired":
      break;
    default:
      return undefined;
  }
  const { idempotencyKey, contactId, requestId } = event.data;
  if (!idempotencyKey.startsWith("campaign:")) return undefined;
  const match = CAMPAIGN_KEY.exec(idempotencyKey);
  const campaignId = match?.[1] ?? "";
  if (!CAMPAIGN_ID.test(campaignId))
    throw new ProgressEventError(`${event.type}: idempotency key names no valid campaign id`, {
      eventId: event.eventId,
    });
  if (match?.[2] !== contactId)
    throw new ProgressEventError(
      `${event.type}: the idempotency key's contact is not the outcome's contact`,
      { eventId: event.eventId, campaignId },
    );
  const base = { requestId, contactId };
  switch (event.type) {
    case "SendAccepted":
      return { campaignId, fact: { ...base, accepted: true } };
    case "SendReconciled":
      return event.data.result === "sent"
        ? { campaignId, fact: { ...base, accepted: true } }
        : { campaignId, fact: { ...base, failure: codeOf(event.data.error) } };
    case "SendFailed":
      return { campaignId, fact: { ...base, failure: codeOf(event.data.error) } };
    case "SendRejected":
      return { campaignId, fact: { ...base, failure: `rejected:${event.data.reason}` } };
    case "SendExpired":
      return { campaignId, fact: { ...base, failure: "expired" } };
  }
}

const codeOf = (error: { code?: number | undefined; errorClass: string } | undefined): string =>
  error === undefined
    ? "unknown"
    : error.code !== undefined
      ? String(error.code)
      : error.errorClass;

const PRICING = /^[A-Za-z0-9_-]{1,64}\/[A-Za-z0-9_-]{1,64}$/;

/**
 * What a status says, for the request it names (`bizOpaqueCallbackData`: the sender puts the
 * request id there and Meta echoes it); undefined for a status that names no request. Pricing
 * whose category or type is not a word is hostile.
 */
export function statusFactOf(event: AnyEvent): DeliveryFact | undefined {
  if (event.type !== "StatusUpdated") return undefined;
  const d = event.data;
  if (d.bizOpaqueCallbackData === undefined) return undefined;
  const base = { requestId: d.bizOpaqueCallbackData, contactId: d.contactId };
  const pricing =
    d.pricing === undefined
      ? undefined
      : `${d.pricing.category}/${d.pricing.type ?? (d.pricing.billable === false ? "free" : "regular")}`;
  if (pricing !== undefined && !PRICING.test(pricing))
    throw new ProgressEventError("StatusUpdated: pricing category or type is not a word", {
      eventId: event.eventId,
    });
  if (d.status === "failed") return { ...base, failure: String(d.errors?.[0]?.code ?? "unknown") };
  return {
    ...base,
    statusRank: statusRanks[d.status],
    ...(pricing === undefined ? {} : { pricing }),
  };
}

/** A campaign's progress from the outcomes and statuses of its sends (issue 27). */
export interface DeliveryProgress {
  /** Sends Meta took (accepted or with a status), failed ones excluded. */
  readonly sent: number;
  /** Delivered or read. */
  readonly delivered: number;
  readonly read: number;
  readonly failed: number;
  readonly failedByCode: Readonly<Record<string, number>>;
  /** The cost Meta's pricing on the statuses says, priced by the card; absent without one. */
  readonly cost?: CostTable;
}

/** A group of sends in the same state (the store groups them; one send is a group of one). */
export interface DeliveryGroup {
  readonly accepted: boolean;
  readonly failure?: string | undefined;
  readonly statusRank: number;
  readonly pricing?: string | undefined;
  readonly country?: string | undefined;
  readonly n: number;
}

/**
 * Progress of a campaign's sends. A failed send is failed whatever came before (a SendFailed
 * async supersedes the acceptance); read implies delivered. The cost counts each send once with
 * the pricing Meta reported (`regular` is charged, every other type is free), priced by the
 * card for the recipient's country; a failed send costs nothing.
 */
export function progressOf(groups: Iterable<DeliveryGroup>, card?: RateCard): DeliveryProgress {
  let sent = 0;
  let delivered = 0;
  let read = 0;
  let failed = 0;
  const failedByCode: Record<string, number> = {};
  const table = card === undefined ? undefined : createCostTable(card);
  for (const g of groups) {
    if (g.failure !== undefined) {
      failed += g.n;
      failedByCode[g.failure] = (failedByCode[g.failure] ?? 0) + g.n;
      continue;
    }
    if (g.accepted || g.statusRank >= 1) sent += g.n;
    if (g.statusRank >= 2) delivered += g.n;
    if (g.statusRank >= 3) read += g.n;
    if (g.pricing !== undefined && table !== undefined) {
      const [category = "", type = ""] = g.pricing.split("/");
      table.add(g.country, category, type === "regular", g.n);
    }
  }
  return {
    sent,
    delivered,
    read,
    failed,
    failedByCode,
    ...(table === undefined ? {} : { cost: table.table() }),
  };
}

/** The country a send is priced in (its contact's). */
export const countryOf = (contactId: string): string | undefined => countryOfContact(contactId);
