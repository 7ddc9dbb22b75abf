import {
  InvalidPhoneNumberError,
  MessageValidationError,
  normalizePhoneNumber,
  type CountryCode,
} from "@parley/cloud-api";
import {
  createEvent,
  parseContactId,
  sendRequestFingerprint,
  type EventOf,
  type MessageCategory,
  type OutboundContent,
  type RejectionReason,
  type TemplateContent,
} from "@parley/contracts";
import type { Decider } from "@parley/decider";
import { ParleyError } from "@parley/errors";
import { checkContent } from "./cloud-message.js";
import {
  evolve,
  initialState,
  isOutput,
  type ConsentEvent,
  type ConsentFact,
  type OutboundEvent,
  type OutboundOutput,
  type OutboundState,
  type RequestOutcome,
  type WindowEvent,
  type WindowFact,
} from "./evolve.js";
import { checkTemplate, type TemplateCatalog } from "./templates.js";

/**
 * The router's outbound decider, per contact. A send request becomes a `DispatchMessage` keyed
 * by the business number, or one terminal outcome (`SendRejected` with a precise reason,
 * `SendExpired`), after these checks in order: a redelivery or a repeated idempotency key, the
 * request's validity, the sender and recipient, Meta's content rules, an opt-out, the service
 * window (template fallback), the template catalog, marketing consent and the frequency cap.
 * Consent and window facts only update the state. Pure: `now`, the directory, the catalog and
 * the ids arrive in the context.
 */

export type SendRequested = EventOf<"SendRequested">;

export type OutboundCommand =
  | {
      readonly type: "DecideSend";
      readonly request: SendRequested;
      /** Digest of everything that makes two requests "the same" (see `requestFingerprint`). */
      readonly contentHash: string;
    }
  | { readonly type: "RecordConsent"; readonly event: ConsentEvent }
  | { readonly type: "RecordWindow"; readonly event: WindowEvent };

/** A business number as the decider needs it (a subset of @parley/numbers' BusinessNumber). */
export interface SenderNumber {
  readonly phoneNumberId: string;
  readonly wabaId: string;
  readonly displayPhoneNumber?: string | undefined;
}

export interface MarketingCap {
  /** Marketing messages allowed per contact in any `periodMs`; 0 turns the cap off. */
  readonly count: number;
  readonly periodMs: number;
}

export interface OutboundContext {
  readonly now: Date;
  readonly resolveSender: (sender: SendRequested["data"]["sender"]) => SenderNumber | undefined;
  /** The sender's WABA catalog; the handler supplies it whenever `needsCatalog(request)`. */
  readonly catalog: TemplateCatalog | undefined;
  /** Windows read at decision time from the inbound side's own state (fresher than the topic). */
  readonly observedWindows: readonly WindowFact[];
  readonly marketingCap: MarketingCap;
  /** Deterministic event ids from a name (UUIDv5), so a redecided request keeps its ids. */
  readonly eventIdOf: (name: string) => string;
  /**
   * Authentication templates go to a contact who opted out of everything (STOP, a utility
   * opt-out), as Meta's policy allows for a code the person asked for (ADR 0012). Off: they are
   * stopped like any other message.
   */
  readonly authenticationExempt?: boolean;
}

/** A template is needed from the catalog: the request's content, or its fallback. */
export const needsCatalog = (request: SendRequested): boolean =>
  request.data.content.type === "template" || request.data.templateFallback !== undefined;

/** The decision depends on the service window: free-form content (a template needs none). */
export const needsWindow = (request: SendRequested): boolean =>
  request.data.content.type !== "template";

/**
 * The request needs its WABA's template catalog and there is none yet (Graph unreachable on the
 * first sync): an outage, waited out on the contact, never a rejection.
 */
export class CatalogUnavailableError extends ParleyError {
  override readonly name = "CatalogUnavailableError";
  constructor(
    readonly wabaId: string,
    cause?: unknown,
  ) {
    super(`no template catalog for WhatsApp Business Account ${wabaId} yet`, {
      retry: "outage",
      cause,
      context: { wabaId },
    });
  }
}

/** The idempotency key's scope: the same key from two requesters are two keys. */
export const idempotencyScope = (request: SendRequested): string =>
  `${request.data.requester ?? ""}\u0000${request.data.idempotencyKey}`;

/**
 * What a repeated key is compared on: `sendRequestFingerprint` of @parley/contracts, the one rule
 * of "the same request" (the HTTP send API applies it too); metadata does not count.
 */
export const requestFingerprint = (request: SendRequested): string =>
  sendRequestFingerprint(request.data);

export function decide(
  command: OutboundCommand,
  state: OutboundState,
  ctx: OutboundContext,
): OutboundEvent[] {
  switch (command.type) {
    case "RecordConsent":
      return evolve(state, command.event) === state ? [] : [command.event];
    case "RecordWindow":
      return evolve(state, command.event) === state ? [] : [command.event];
    case "DecideSend":
      return decideSend(command.request, command.contentHash, state, ctx);
  }
}

/**
 * The outbound decider as the runtime (`@parley/decider`) runs it: `RequestDecided` records
 * stay in the state; dispatch commands and terminal outcomes are published.
 */
export const outboundDecider: Decider<
  OutboundState,
  OutboundCommand,
  OutboundEvent,
  OutboundContext,
  OutboundOutput
> = { initialState, decide, evolve, isPublished: isOutput };

const FREE_FORM_HINT =
  "free-form content needs an open window; send a template or give templateFallback";

function decideSend(
  request: SendRequested,
  contentHash: string,
  state: OutboundState,
  ctx: OutboundContext,
): OutboundEvent[] {
  const requestId = request.correlationId;
  const data = request.data;
  const key = idempotencyScope(request);
  // A redelivery of a request already decided: its events are out (or in the outbox).
  if (state.requests.some((r) => r.requestId === requestId)) return [];
  const out = outcomes(request, contentHash, ctx);

  const previous = state.requests.find((r) => r.key === key);
  if (previous !== undefined) {
    // Nothing new is decided or sent; the repeat still gets its one terminal outcome, which
    // names the request whose outcome is the answer (invariant 10).
    if (previous.contentHash === contentHash) return out.deduplicate(previous.requestId);
    return out.reject(
      "duplicate_conflict",
      `idempotency key "${data.idempotencyKey}" was used by request ${previous.requestId} with different content`,
      { claimsKey: false },
    );
  }

  if (data.validUntil !== undefined && Date.parse(data.validUntil) <= ctx.now.getTime()) {
    return out.expire(data.validUntil);
  }

  const sender = ctx.resolveSender(data.sender);
  if (sender === undefined) {
    return out.reject(
      "unknown_sender",
      data.sender.kind === "alias"
        ? `no business number has the alias "${data.sender.alias}" in the number directory`
        : `business number ${data.sender.phoneNumberId} is not in the number directory`,
    );
  }
  const decided = out.from(sender.phoneNumberId);

  const recipient = recipientOf(data.recipient, sender);
  if (!recipient.ok) return decided.reject("recipient_invalid", recipient.detail);
  // Consent, the window and the history are judged for contactId and the message goes to the
  // recipient: they must be one person, or an opt-out could be walked around (ADR 0008).
  const person = contactIdOfRecipient(recipient);
  if (person !== data.contactId) {
    return decided.reject(
      "contact_mismatch",
      `contactId does not name the recipient: the recipient's contact id is ${person}, the request says ${data.contactId}; derive contactId from the recipient with contactIdOf (@parley/contracts), or leave it to the client`,
    );
  }

  const invalid =
    contentProblem("content", data.content, recipient.to, data.replyTo, requestId) ??
    (data.templateFallback === undefined
      ? undefined
      : contentProblem(
          "templateFallback",
          { type: "template", template: data.templateFallback },
          recipient.to,
          data.replyTo,
          requestId,
        ));
  if (invalid !== undefined) return decided.reject("invalid_request", invalid);

  // A STOP (scope all) or a utility opt-out stops every business-initiated message (ADR 0012).
  const everything = newest(consentOf(state, "all"), consentOf(state, "utility"));
  // An authentication template, when exempt, is judged once its category is confirmed by the
  // catalog below (a request that says authentication for another template is refused there).
  const exempt =
    ctx.authenticationExempt === true &&
    data.category === "authentication" &&
    data.content.type === "template";
  if (everything !== undefined && !everything.granted && !exempt) {
    return decided.reject(
      "opted_out",
      `the contact opted out of all messages (${describeConsent(everything)})`,
      { consent: everything },
    );
  }

  // The window, judged now, with one business number; templates need none.
  let content: OutboundContent = data.content;
  let usedTemplateFallback = false;
  if (content.type !== "template") {
    const window = windowWith(state, ctx, sender.phoneNumberId);
    const open = window !== undefined && Date.parse(window.expiresAt) > ctx.now.getTime();
    if (!open) {
      if (data.templateFallback === undefined) {
        return decided.reject(
          "outside_window",
          window === undefined
            ? `the customer-service window with business number ${sender.phoneNumberId} is closed (the contact never wrote to it, or not in the last 24 h); ${FREE_FORM_HINT}`
            : `the customer-service window with business number ${sender.phoneNumberId} closed at ${window.expiresAt}; ${FREE_FORM_HINT}`,
        );
      }
      content = { type: "template", template: data.templateFallback };
      usedTemplateFallback = true;
    }
  }

  let category: MessageCategory = data.category;
  if (content.type === "template") {
    if (ctx.catalog === undefined) throw new CatalogUnavailableError(sender.wabaId);
    const check = checkTemplate(content.template, ctx.catalog);
    const which = usedTemplateFallback ? "templateFallback: " : "";
    if (!check.ok) return decided.reject(check.reason, `${which}${check.detail}`);
    if (!usedTemplateFallback && check.category !== data.category) {
      return decided.reject(
        "invalid_request",
        `template "${check.template.name}" is in category ${check.template.category}, the request says ${data.category}`,
      );
    }
    category = check.category;
  }

  const relied = category === "marketing" ? latestConsent(state) : everything;
  if (category === "marketing") {
    if (relied !== undefined && !relied.granted) {
      return decided.reject(
        "opted_out",
        `the contact opted out of marketing (${describeConsent(relied)})`,
        { consent: relied },
      );
    }
    if (relied === undefined) {
      return decided.reject(
        "no_consent",
        "marketing needs a recorded opt-in (ConsentGranted, scope marketing or all); none is recorded for this contact",
      );
    }
    if (relied.expiresAt !== undefined && Date.parse(relied.expiresAt) <= ctx.now.getTime()) {
      return decided.reject(
        "no_consent",
        `the contact's marketing opt-in expired at ${relied.expiresAt} (${describeConsent(relied)})`,
        { consent: relied },
      );
    }
    const { count, periodMs } = ctx.marketingCap;
    if (count > 0) {
      const since = ctx.now.getTime() - periodMs;
      const recent = state.marketingSends.filter((at) => Date.parse(at) > since);
      if (recent.length >= count) {
        const oldest = recent[0] ?? ctx.now.toISOString();
        return decided.reject(
          "frequency_capped",
          `${recent.length} marketing message(s) went to this contact in the last ${formatPeriod(periodMs)}; the cap is ${count} per ${formatPeriod(periodMs)} (next allowed after ${new Date(Date.parse(oldest) + periodMs).toISOString()})`,
        );
      }
    }
  }

  // Free-form content may still be failed by Meta for a closed window (131047) if its view of
  // the window differs near the edge: the sender then sends the fallback once instead, so the
  // dispatch carries it when it is approved in the catalog.
  const lateFallback =
    !usedTemplateFallback && data.templateFallback !== undefined && ctx.catalog !== undefined
      ? checkTemplate(data.templateFallback, ctx.catalog).ok
        ? data.templateFallback
        : undefined
      : undefined;

  return decided.dispatch({
    to: recipient.to,
    toKind: recipient.toKind,
    content,
    category,
    usedTemplateFallback,
    templateFallback: lateFallback,
    consent: relied,
  });
}

/** The canonical contact id of the resolved recipient (E.164 number or BSUID). */
function contactIdOfRecipient(recipient: { readonly to: string }): string {
  const parsed = parseContactId(recipient.to);
  // recipientOf resolved the number already; a BSUID is kept as given.
  return parsed.ok ? parsed.contactId : recipient.to;
}

function consentOf(state: OutboundState, scope: ConsentFact["scope"]): ConsentFact | undefined {
  return state.consent.find((c) => c.scope === scope);
}

/** The later of two facts; on a tie the first. */
function newest(a: ConsentFact | undefined, b: ConsentFact | undefined): ConsentFact | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Date.parse(a.occurredAt) >= Date.parse(b.occurredAt) ? a : b;
}

/** For marketing: the latest fact of either scope (a START after a marketing stop resumes it). */
function latestConsent(state: OutboundState): ConsentFact | undefined {
  return newest(consentOf(state, "marketing"), consentOf(state, "all"));
}

export function describeConsent(c: ConsentFact): string {
  return `${c.granted ? "ConsentGranted" : "ConsentRevoked"} ${c.eventId}, scope ${c.scope}, source ${c.source}, at ${c.occurredAt}`;
}

function windowWith(
  state: OutboundState,
  ctx: OutboundContext,
  businessNumber: string,
): WindowFact | undefined {
  let best: WindowFact | undefined;
  for (const w of [...state.windows, ...ctx.observedWindows]) {
    if (w.businessNumber !== businessNumber) continue;
    if (best === undefined || Date.parse(w.expiresAt) > Date.parse(best.expiresAt)) best = w;
  }
  return best;
}

type Recipient =
  | { readonly ok: true; readonly to: string; readonly toKind: "phone" | "userId" }
  | { readonly ok: false; readonly detail: string };

/** Recipients read lately, by phone and business display number (bounded; see recipientOf). */
const RECIPIENTS_KEPT = 10_000;
const recipients = new Map<string, Recipient>();

/**
 * The recipient as Meta will read it. A phone number is read with libphonenumber (a fifth of the
 * decision's CPU, issue 31), so each (phone, display number) pair's reading is kept: the same
 * contact's later requests reuse it. The reading is a pure function of the two strings, so
 * keeping it changes no decision; the map is emptied when full.
 */
function recipientOf(
  recipient: SendRequested["data"]["recipient"],
  sender: SenderNumber,
): Recipient {
  if (recipient.phone === undefined) return readRecipient(recipient, sender);
  const key = `${recipient.phone}\u0000${sender.displayPhoneNumber ?? ""}`;
  const kept = recipients.get(key);
  if (kept !== undefined) return kept;
  const read = readRecipient(recipient, sender);
  if (recipients.size >= RECIPIENTS_KEPT) recipients.clear();
  recipients.set(key, read);
  return read;
}

function readRecipient(
  recipient: SendRequested["data"]["recipient"],
  sender: SenderNumber,
): Recipient {
  if (recipient.phone !== undefined) {
    try {
      // Without a "+", Meta reads a number in the business number's country: so do we.
      const defaultCountry = countryOf(sender.displayPhoneNumber);
      // An international number in one of Meta's own forms (Mexico's 521, Brazil without the
      // ninth digit) is read as the canonical number, which libphonenumber knows.
      const international = /^\s*(\+|00)/.test(recipient.phone);
      const canonical = international ? parseContactId(recipient.phone) : undefined;
      const phone = normalizePhoneNumber(
        canonical?.ok === true ? `+${canonical.contactId}` : recipient.phone,
        defaultCountry === undefined ? {} : { defaultCountry },
      );
      // With the "+", Meta prepends no country code of its own.
      return { ok: true, to: phone.e164, toKind: "phone" };
    } catch (error) {
      if (error instanceof InvalidPhoneNumberError) return { ok: false, detail: error.message };
      throw error;
    }
  }
  if (recipient.userId !== undefined) return { ok: true, to: recipient.userId, toKind: "userId" };
  return { ok: false, detail: "the recipient has neither a phone number nor a userId" };
}

function countryOf(displayPhoneNumber: string | undefined): CountryCode | undefined {
  if (displayPhoneNumber === undefined) return undefined;
  try {
    return normalizePhoneNumber(displayPhoneNumber).country;
  } catch {
    return undefined;
  }
}

function contentProblem(
  what: string,
  content: OutboundContent,
  to: string,
  replyTo: string | undefined,
  callbackData: string,
): string | undefined {
  try {
    checkContent(content, { to, replyTo, callbackData });
    return undefined;
  } catch (error) {
    if (error instanceof MessageValidationError) return `${what}: ${error.message}`;
    throw error;
  }
}

function formatPeriod(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, "day"],
    [3_600_000, "hour"],
    [60_000, "minute"],
    [1_000, "second"],
  ];
  for (const [size, name] of units) {
    if (ms % size === 0) {
      const n = ms / size;
      return n === 1 ? name : `${n} ${name}s`;
    }
  }
  return `${ms} ms`;
}

interface DispatchPlan {
  readonly to: string;
  readonly toKind: "phone" | "userId";
  readonly content: OutboundContent;
  readonly category: MessageCategory;
  readonly usedTemplateFallback: boolean;
  readonly templateFallback: TemplateContent | undefined;
  readonly consent: ConsentFact | undefined;
}

/** Builds the request's one output and the record that it was decided, with stable ids. */
function outcomes(request: SendRequested, contentHash: string, ctx: OutboundContext) {
  const requestId = request.correlationId;
  const data = request.data;
  const decidedAt = ctx.now.toISOString();
  const outcomeBase = {
    requestId,
    idempotencyKey: data.idempotencyKey,
    contactId: data.contactId,
    ...(data.metadata === undefined ? {} : { metadata: data.metadata }),
  };
  const meta = (businessNumber: string | undefined, kind: string) => ({
    eventId: ctx.eventIdOf(`router:${kind}:${requestId}`),
    correlationId: requestId,
    causationId: request.eventId,
    now: ctx.now,
    ...(businessNumber === undefined ? {} : { businessNumber }),
  });
  const recorded = (
    outcome: RequestOutcome,
    { claimsKey = true, marketingAt }: { claimsKey?: boolean; marketingAt?: string } = {},
  ): OutboundEvent => ({
    type: "RequestDecided",
    record: {
      requestId,
      key: claimsKey ? idempotencyScope(request) : undefined,
      contentHash,
      decidedAt,
      outcome,
    },
    marketingAt,
  });
  const build = (businessNumber: string | undefined) => ({
    reject(
      reason: RejectionReason,
      detail: string,
      { consent, ...options }: { claimsKey?: boolean; consent?: ConsentFact } = {},
    ): OutboundEvent[] {
      return [
        createEvent(
          "SendRejected",
          {
            ...outcomeBase,
            ...(consent === undefined ? {} : { consentEventId: consent.eventId }),
            reason,
            detail,
          },
          meta(businessNumber, "outcome"),
        ),
        recorded(reason, options),
      ];
    },
    deduplicate(originalRequestId: string): OutboundEvent[] {
      return [
        createEvent(
          "SendDeduplicated",
          { ...outcomeBase, originalRequestId },
          meta(businessNumber, "outcome"),
        ),
        recorded("deduplicated", { claimsKey: false }),
      ];
    },
    expire(validUntil: string): OutboundEvent[] {
      return [
        createEvent(
          "SendExpired",
          { ...outcomeBase, validUntil, stage: "router" },
          meta(businessNumber, "outcome"),
        ),
        recorded("expired"),
      ];
    },
    dispatch(plan: DispatchPlan): OutboundEvent[] {
      return [
        createEvent(
          "DispatchMessage",
          {
            requestId,
            idempotencyKey: data.idempotencyKey,
            contactId: data.contactId,
            to: plan.to,
            toKind: plan.toKind,
            content: plan.content,
            category: plan.category,
            usedTemplateFallback: plan.usedTemplateFallback,
            ...(plan.templateFallback === undefined
              ? {}
              : { templateFallback: plan.templateFallback }),
            ...(data.replyTo === undefined ? {} : { replyTo: data.replyTo }),
            ...(data.validUntil === undefined ? {} : { validUntil: data.validUntil }),
            bizOpaqueCallbackData: requestId,
            ...(plan.consent === undefined ? {} : { consentEventId: plan.consent.eventId }),
          },
          meta(businessNumber, "dispatch"),
        ),
        recorded("dispatched", plan.category === "marketing" ? { marketingAt: decidedAt } : {}),
      ];
    },
  });
  return { ...build(undefined), from: (businessNumber: string) => build(businessNumber) };
}
