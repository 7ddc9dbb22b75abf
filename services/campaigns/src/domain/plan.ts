import { possiblePhoneCountry } from "@parley/cloud-api";
import { parseContactId, type ContactIdResult, type SendRequestData } from "@parley/contracts";
import type { CampaignDefinition, PlanNumber } from "./campaign.js";
import { createLocalClock, firstAllowedInstant } from "./quiet-hours.js";
import { createSeenContacts } from "./seen-contacts.js";

/** Why a recipient of the audience gets no message; each row has exactly one. */
export const skipReasons = [
  "invalid_row",
  "invalid_number",
  "duplicate",
  "missing_parameter",
  "us_marketing_blocked",
  "opted_out",
  "no_consent",
  "frequency_cap",
  "outside_messaging_limit",
] as const;
export type SkipReason = (typeof skipReasons)[number];

/** One audience row as the reader hands it over: parsed, or with what is wrong with it. */
export type AudienceRow =
  | {
      readonly ok: true;
      /** 0-based position in the audience: the plan's cursor. */
      readonly index: number;
      /** Where it came from (the file's line), for the report. */
      readonly line: number;
      readonly phone: string;
      readonly params: Readonly<Record<string, string>>;
      readonly timeZone?: string | undefined;
    }
  | { readonly ok: false; readonly index: number; readonly line: number; readonly problem: string };

/** What the plan needs to know about a contact, read in batches before deciding. */
export interface ContactFacts {
  /** The contact's consent for the campaign's purpose (marketing or utility). */
  readonly consent: "granted" | "revoked" | "unknown";
  /** Campaign messages the contact was sent within the campaign's frequency-cap period. */
  readonly recentCampaignSends: number;
  /** An open service window: a send reaches them without using the messaging limit. */
  readonly windowOpen: boolean;
  /** An open free-entry-point window (after a Click-to-WhatsApp ad): the send is free. */
  readonly freeEntryPoint?: boolean;
}

export const unknownContact: ContactFacts = {
  consent: "unknown",
  recentCampaignSends: 0,
  windowOpen: false,
};

export type PlanDecision =
  | {
      readonly kind: "planned";
      readonly index: number;
      readonly contactId: string;
      readonly requestId: string;
      readonly phoneNumberId: string;
      /** When the send may start: the schedule's start, moved past the recipient's quiet hours. */
      readonly releaseAt: string;
      /** Whether it uses the portfolio's messaging limit (no open window). */
      readonly limited: boolean;
      /** Inside a free-entry-point window when planned: forecast as free. */
      readonly freeEntryPoint?: true;
      /** The recipient's country (the forecast's market), as the phone parse found it. */
      readonly country?: string;
      /** The body parameters' values in the campaign's `bodyParameters` order (what the queue keeps). */
      readonly params: readonly string[];
      /** The SendRequested (built when read: the plan store keeps `params`, not the request). */
      readonly request: SendRequestData;
    }
  | {
      readonly kind: "skipped";
      readonly index: number;
      readonly line: number;
      readonly reason: SkipReason;
      readonly detail: string;
      /** Absent when the row names no valid contact. */
      readonly contactId?: string;
    };

/** Counters that survive a crash (the checkpoint); the seen set is rebuilt from the audience. */
export interface PlanCounters {
  /** The next row index to decide. */
  readonly next: number;
  readonly planned: number;
  readonly skipped: Readonly<Partial<Record<SkipReason, number>>>;
  /** Recipients given to each number, in `numbers` order. */
  readonly perNumber: readonly number[];
  /** Planned recipients that use the messaging limit. */
  readonly limitUsed: number;
  /** The latest releaseAt planned so far (ISO), or undefined. */
  readonly lastReleaseAt?: string | undefined;
}

export const initialCounters = (numbers: number): PlanCounters => ({
  next: 0,
  planned: 0,
  skipped: {},
  perNumber: Array.from({ length: numbers }, () => 0),
  limitUsed: 0,
});

export interface PlanSettings {
  readonly campaign: CampaignDefinition;
  /** The campaign's numbers with their caps, in the campaign's order. */
  readonly numbers: readonly PlanNumber[];
  /** Unique users outside a window this plan may still reach (ADR 0015, "Messaging limit"). */
  readonly limitBudget: number;
  /** Deterministic UUID (v5) of a name: the request id of a recipient. */
  readonly requestIdOf: (name: string) => string;
}

/** The idempotency key of a recipient's send: the same for every plan of the campaign. */
export const idempotencyKeyOf = (campaignId: string, contactId: string): string =>
  `campaign:${campaignId}:${contactId}`;

/** The campaign an idempotency key `campaign:<id>:<contact>` names; undefined for any other key. */
export function campaignOfKey(idempotencyKey: string): string | undefined {
  const m = /^campaign:([a-z0-9][a-z0-9-]{0,63}):/.exec(idempotencyKey);
  return m?.[1];
}

/**
 * The planner (ADR 0015): a deterministic fold over the audience in row order. Each row becomes
 * one SendRequested or one skip with its reason; the request id and idempotency key derive from
 * the campaign and the contact, so a plan resumed after a crash repeats exactly the sends it may
 * have published (the router answers a repeated key with SendDeduplicated) and skips nobody.
 *
 * Pure: no I/O, no clock (the schedule is the time base), no randomness. The accumulator is
 * mutable because an audience has millions of rows; `counters()` is its serialisable part and
 * `remember` rebuilds the rest (the contacts seen) from rows already decided.
 */
export function createPlanner(settings: PlanSettings, from?: PlanCounters) {
  const { campaign, numbers, limitBudget, requestIdOf } = settings;
  const c = from ?? initialCounters(numbers.length);
  let next = c.next;
  let planned = c.planned;
  const skipped: Partial<Record<SkipReason, number>> = { ...c.skipped };
  const perNumber = [...c.perNumber];
  let limitUsed = c.limitUsed;
  let lastReleaseAt = c.lastReleaseAt === undefined ? undefined : Date.parse(c.lastReleaseAt);
  const seen = createSeenContacts();
  const localMinute = createLocalClock();
  /** Every recipient of a zone has the same release instant: the schedule's start is fixed. */
  const releaseByZone = new Map<string, { readonly ms: number; readonly iso: string }>();
  const bodyParameters = campaign.bodyParameters;
  const startAt = new Date(campaign.schedule.startAt);
  const marketing = campaign.category === "marketing";

  const skip = (
    row: AudienceRow,
    reason: SkipReason,
    detail: string,
    contactId?: string,
  ): PlanDecision => {
    skipped[reason] = (skipped[reason] ?? 0) + 1;
    return {
      kind: "skipped",
      index: row.index,
      line: row.line,
      reason,
      detail,
      ...(contactId === undefined ? {} : { contactId }),
    };
  };

  /** The contact a row names, or why it names none. */
  const identify = (
    row: Extract<AudienceRow, { ok: true }>,
    parsed: ContactIdResult,
  ): { ok: true; contactId: string; country: string | undefined } | { ok: false; why: string } => {
    if (!parsed.ok) return { ok: false, why: parsed.reason };
    if (!DIGITS.test(parsed.contactId)) {
      return { ok: false, why: "a BSUID: a campaign needs the recipient's phone number" };
    }
    // A merely possible number is kept, as the router keeps it: new ranges and Meta's test
    // numbers are missing from libphonenumber's metadata. The country and possibility only (no
    // validity check, no cache): what normalizePhoneNumber answers, at half its CPU.
    const phone = possiblePhoneCountry(parsed.contactId);
    if (!phone.possible) return { ok: false, why: "not a possible phone number for any country" };
    return { ok: true, contactId: parsed.contactId, country: phone.country };
  };

  /** The number with the most room relative to its cap (lowest load after one more). */
  const pickNumber = (): number => {
    let best = 0;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (let i = 0; i < numbers.length; i++) {
      const load = ((perNumber[i] ?? 0) + 1) / (numbers[i]?.mps ?? 1);
      if (load < bestLoad) {
        best = i;
        bestLoad = load;
      }
    }
    return best;
  };

  /**
   * One row's decision. `parsed` is the row's contact id when the caller parsed it already (the
   * plan run does, for the facts); otherwise it is parsed here.
   */
  function decide(row: AudienceRow, facts: ContactFacts, parsed?: ContactIdResult): PlanDecision {
    if (row.index !== next) {
      throw new Error(`plan: row ${row.index} decided out of order (expected ${next})`);
    }
    next++;
    if (!row.ok) return skip(row, "invalid_row", row.problem);
    const who = identify(row, parsed ?? parseContactId(row.phone));
    if (!who.ok) return skip(row, "invalid_number", who.why);
    const { contactId } = who;
    if (seen.has(contactId))
      return skip(row, "duplicate", "an earlier row names the same contact", contactId);
    seen.add(contactId);
    const values: string[] = [];
    let missing: string[] | undefined;
    for (const p of bodyParameters) {
      const v = row.params[p] ?? "";
      if (v === "") (missing ??= []).push(p);
      values.push(v);
    }
    if (missing !== undefined) {
      return skip(row, "missing_parameter", `no value for ${missing.join(", ")}`, contactId);
    }
    if (marketing && who.country === "US") {
      return skip(
        row,
        "us_marketing_blocked",
        "Meta does not deliver marketing templates to US numbers",
        contactId,
      );
    }
    if (facts.consent === "revoked") {
      return skip(row, "opted_out", `the contact opted out of ${purposeOf(campaign)}`, contactId);
    }
    if (marketing && facts.consent !== "granted") {
      return skip(row, "no_consent", "no recorded marketing opt-in", contactId);
    }
    const cap = campaign.frequencyCap;
    if (cap !== undefined && facts.recentCampaignSends >= cap.max) {
      return skip(
        row,
        "frequency_cap",
        `${facts.recentCampaignSends} campaign messages within ${cap.days} days (cap ${cap.max})`,
        contactId,
      );
    }
    const limited = !facts.windowOpen;
    if (limited && limitUsed >= limitBudget) {
      return skip(
        row,
        "outside_messaging_limit",
        `the portfolio's messaging limit leaves ${limitBudget} users for this plan`,
        contactId,
      );
    }
    if (limited) limitUsed++;
    const n = pickNumber();
    perNumber[n] = (perNumber[n] ?? 0) + 1;
    const phoneNumberId = numbers[n]?.phoneNumberId ?? "";
    const zone = row.timeZone ?? campaign.schedule.defaultTimeZone;
    let release = releaseByZone.get(zone);
    if (release === undefined) {
      const at = firstAllowedInstant(startAt, campaign.schedule.quietHours, zone, localMinute);
      release = { ms: at.getTime(), iso: at.toISOString() };
      releaseByZone.set(zone, release);
    }
    if (lastReleaseAt === undefined || release.ms > lastReleaseAt) {
      lastReleaseAt = release.ms;
    }
    planned++;
    return plannedSend(campaign, {
      index: row.index,
      contactId,
      requestId: requestIdOf(idempotencyKeyOf(campaign.id, contactId)),
      phoneNumberId,
      releaseAt: release.iso,
      limited,
      ...(facts.freeEntryPoint === true ? { freeEntryPoint: true as const } : {}),
      ...(who.country === undefined ? {} : { country: who.country }),
      params: values,
    });
  }

  /** Rebuilds the contacts seen from a row decided before the checkpoint (no counting). */
  function remember(row: AudienceRow): void {
    if (!row.ok) return;
    // No libphonenumber here (most of a row's cost): a contact id that is no possible number is
    // `invalid_number` in every row that names it, before the duplicate check, so keeping it in
    // the seen set changes no decision.
    const parsed = parseContactId(row.phone);
    if (parsed.ok) seen.add(parsed.contactId);
  }

  function counters(): PlanCounters {
    return {
      next,
      planned,
      skipped: { ...skipped },
      perNumber: [...perNumber],
      limitUsed,
      lastReleaseAt:
        lastReleaseAt === undefined ? undefined : new Date(lastReleaseAt).toISOString(),
    };
  }

  return { decide, remember, counters };
}

export type Planner = ReturnType<typeof createPlanner>;

const DIGITS = /^\d+$/;

const purposeOf = (campaign: CampaignDefinition): string =>
  campaign.category === "marketing" ? "marketing" : "utility messages";

/** The SendRequested of one recipient: the template with the row's body parameters. */
function requestFor(
  campaign: CampaignDefinition,
  contactId: string,
  phoneNumberId: string,
  idempotencyKey: string,
  values: readonly string[],
): SendRequestData {
  const body = campaign.bodyParameters.map((name, i) => ({
    type: "text" as const,
    text: values[i] ?? "",
    parameterName: name,
  }));
  return {
    contactId,
    idempotencyKey,
    recipient: { phone: contactId },
    sender: { kind: "businessNumber", phoneNumberId },
    content: {
      type: "template",
      template: {
        name: campaign.template.name,
        language: campaign.template.language,
        ...(body.length === 0 ? {} : { components: [{ type: "body", parameters: body }] }),
      },
    },
    category: campaign.category,
    ...(campaign.schedule.endAt === undefined ? {} : { validUntil: campaign.schedule.endAt }),
    metadata: { campaignId: campaign.id },
    requester: campaign.owner,
  };
}

/** What the queue keeps of a planned send: the rest is the campaign's (`queuedSendOf`). */
export interface QueuedRecipient {
  readonly index: number;
  readonly contactId: string;
  readonly requestId: string;
  readonly phoneNumberId: string;
  readonly releaseAt: string;
  readonly limited: boolean;
  readonly freeEntryPoint?: true;
  /** The recipient's country, when the queue kept it. */
  readonly country?: string;
  /** The body parameters' values in the campaign's `bodyParameters` order. */
  readonly params: readonly string[];
}

/** The body parameters' values of a planned send, in the campaign's order (what the queue keeps). */
export function bodyValuesOf(send: Extract<PlanDecision, { kind: "planned" }>): readonly string[] {
  return send.params;
}

/**
 * A planned send from what the queue keeps: its `request` is built when read (by the releaser,
 * the memory store, a test), not for every row planned; the plan store keeps only `params`, so
 * the request's dozen objects a row were garbage as soon as they were made (GC was about a tenth
 * of the planner's CPU, docs/benchmarks.md "Campaigns").
 */
function plannedSend(
  campaign: CampaignDefinition,
  q: Omit<Extract<PlanDecision, { kind: "planned" }>, "kind" | "request">,
): Extract<PlanDecision, { kind: "planned" }> {
  let request: SendRequestData | undefined;
  return {
    kind: "planned",
    ...q,
    get request(): SendRequestData {
      request ??= requestFor(
        campaign,
        q.contactId,
        q.phoneNumberId,
        idempotencyKeyOf(campaign.id, q.contactId),
        q.params,
      );
      return request;
    },
  };
}

/**
 * The planned send of a queued recipient, rebuilt from the campaign (its template, category,
 * owner, schedule) and what the queue keeps: the same SendRequested the planner decided, so a
 * queue document need not hold the whole request (its BSON was the planner's largest cost).
 */
export function queuedSendOf(
  campaign: CampaignDefinition,
  q: QueuedRecipient,
): Extract<PlanDecision, { kind: "planned" }> {
  return plannedSend(campaign, {
    index: q.index,
    contactId: q.contactId,
    requestId: q.requestId,
    phoneNumberId: q.phoneNumberId,
    releaseAt: q.releaseAt,
    limited: q.limited,
    ...(q.freeEntryPoint === true ? { freeEntryPoint: true as const } : {}),
    ...(q.country === undefined ? {} : { country: q.country }),
    params: campaign.bodyParameters.map((_, i) => q.params[i] ?? ""),
  });
}

/**
 * When the plan's sends are done at the numbers' caps: the latest release plus the longest
 * number's queue at its cap (a lower bound: the numbers also carry ordinary sends).
 */
export function finishEstimate(
  counters: PlanCounters,
  numbers: readonly PlanNumber[],
  startAt: string,
): string {
  const base = Math.max(
    Date.parse(startAt),
    counters.lastReleaseAt === undefined ? 0 : Date.parse(counters.lastReleaseAt),
  );
  let seconds = 0;
  for (let i = 0; i < numbers.length; i++) {
    seconds = Math.max(seconds, (counters.perNumber[i] ?? 0) / (numbers[i]?.mps ?? 1));
  }
  return new Date(base + Math.ceil(seconds * 1000)).toISOString();
}
