import { ParleyError } from "@parley/errors";
/**
 * One person, one key (ADR 0008). Every contact-keyed event, every per-contact state document
 * and every consent record is keyed by the canonical contact id derived here, whatever form the
 * person's number arrived in: a wa_id in a webhook, an E.164 number from a CRM, the digits Meta
 * returned from a send.
 *
 * Meta rewrites some numbers (reference §10), so one WhatsApp user can appear under two digit
 * strings. The canonical form is the number as it is dialled internationally today:
 *
 * - Brazil: mobiles carry the ninth digit. Older accounts arrive as `55 AA XXXXXXXX`; the
 *   canonical id is `55 AA 9XXXXXXXX`. Landlines (first digit 2-5) have no ninth digit.
 * - Mexico: no mobile `1` since 2019. Meta's wa_ids arrive as `521` + 10 digits; the canonical id
 *   is `52` + 10 digits.
 * - Argentina: mobiles carry the `9`. `54` + 10 digits becomes `549` + 10 digits, which is also
 *   the form Meta's wa_ids take.
 *
 * A username user whose phone number Meta withholds is keyed by their business-scoped user id
 * (BSUID, e.g. `US.13491208655302741918`) until a phone number is known.
 */

/** Digits of a wa_id or an international number: E.164 allows at most 15. */
const DIGITS = /^\d{6,15}$/;
/** A BSUID (`US.134…`) or a parent BSUID (`US.ENT.118…`). */
const BSUID = /^[A-Z]{2}(?:\.[A-Z]{2,8})?\.\d{6,40}$/;

export type ContactIdResult =
  | { readonly ok: true; readonly contactId: string }
  | { readonly ok: false; readonly reason: string };

/** Meta's rewrites undone: the one digit string for a person's number. */
function canonicalDigits(d: string): string {
  let m = /^55(\d{2})([6-9]\d{7})$/.exec(d);
  if (m) return `55${m[1] ?? ""}9${m[2] ?? ""}`;
  m = /^521(\d{10})$/.exec(d);
  if (m) return `52${m[1] ?? ""}`;
  m = /^54(\d{10})$/.exec(d);
  if (m) return `549${m[1] ?? ""}`;
  return d;
}

/**
 * The canonical contact id of a wa_id, an international phone number (`+`, `00`, spaces,
 * dashes, dots and parentheses allowed) or a BSUID; a precise reason when it is none of them.
 * A number without its country code cannot be keyed: which country it belongs to depends on the
 * business number that sends, so give it in international form.
 */
export function parseContactId(input: string): ContactIdResult {
  if (input.length > 64) return { ok: false, reason: "longer than 64 characters" };
  const trimmed = input.trim();
  if (trimmed === "") return { ok: false, reason: "empty" };
  if (BSUID.test(trimmed)) return { ok: true, contactId: trimmed };
  if (!/^[+\d\s\-().]+$/.test(trimmed)) {
    return {
      ok: false,
      reason:
        "not a wa_id, an international phone number or a BSUID (only digits, +, spaces, dashes, dots and parentheses, or CC.digits)",
    };
  }
  let digits = trimmed.replace(/[\s\-().]/g, "");
  if (digits.startsWith("+")) digits = digits.slice(1);
  else if (digits.startsWith("00")) digits = digits.slice(2);
  if (!DIGITS.test(digits)) {
    return {
      ok: false,
      reason: `has ${digits.replace(/\D/g, "").length} digits; a wa_id or an international number has 6 to 15, with its country code`,
    };
  }
  return { ok: true, contactId: canonicalDigits(digits) };
}

/** Thrown by contactIdOf for input that names no contact. */
export class InvalidContactIdError extends ParleyError {
  override readonly name = "InvalidContactIdError";
  constructor(readonly reason: string) {
    // The input stays out of the message: it is a phone number and messages reach logs.
    super(`invalid contact id: ${reason}`, { retry: "never" });
  }
}

/** The canonical contact id (see parseContactId); throws InvalidContactIdError otherwise. */
export function contactIdOf(input: string): string {
  const result = parseContactId(input);
  if (!result.ok) throw new InvalidContactIdError(result.reason);
  return result.contactId;
}

/** True when both inputs name the same person (the same canonical contact id). */
export function sameContact(a: string, b: string): boolean {
  const x = parseContactId(a);
  const y = parseContactId(b);
  return x.ok && y.ok && x.contactId === y.contactId;
}

/** A send request's recipient, as the SendRequested contract has it. */
export interface RecipientLike {
  readonly phone?: string | undefined;
  readonly userId?: string | undefined;
}

/**
 * The contact id a send request must carry for its recipient: derived from the recipient when
 * `contactId` is left out, checked against it when given. A phone number without its country
 * code cannot be keyed here (the router reads it in the sending number's country and checks the
 * pair then); such a request must name its contactId. The message says what to do.
 */
export function contactIdForRequest(
  contactId: string | undefined,
  recipient: RecipientLike,
):
  | { readonly ok: true; readonly contactId: string }
  | { readonly ok: false; readonly message: string } {
  const phone = recipient.phone?.trim();
  const derived: ContactIdResult | undefined =
    phone !== undefined && phone !== ""
      ? /^(\+|00)/.test(phone)
        ? parseContactId(phone)
        : undefined
      : recipient.userId !== undefined
        ? parseContactId(recipient.userId)
        : undefined;
  if (contactId === undefined) {
    if (derived?.ok === true) return { ok: true, contactId: derived.contactId };
    return {
      ok: false,
      message:
        derived === undefined
          ? "required when recipient.phone has no country code: give the number in international form (+CC...) and leave contactId out, or pass contactIdOf(the international number)"
          : `cannot be derived from the recipient: ${derived.reason}`,
    };
  }
  if (derived?.ok === true && derived.contactId !== contactId) {
    return {
      ok: false,
      message: `does not name the recipient: the recipient's contact id is ${derived.contactId}; leave contactId out to have it derived, or pass contactIdOf(recipient)`,
    };
  }
  return { ok: true, contactId };
}
