import { parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js";
import { InvalidPhoneNumberError } from "./errors.js";

export type { CountryCode } from "libphonenumber-js";

export interface NormalizedPhone {
  /** `+` and digits, e.g. `+5511987654321`. Send this as `to`: with the `+`, Meta prepends nothing. */
  readonly e164: string;
  /** Digits only; what WhatsApp calls a wa_id *before* Meta's own rewriting (see waIdAliases). */
  readonly digits: string;
  readonly country: CountryCode | undefined;
  readonly countryCallingCode: string;
  /** False when the number has a possible length but libphonenumber does not know the range. */
  readonly valid: boolean;
}

/**
 * Keeps the first 3 and last 2 digits: enough to tell numbers apart in a log line, not enough
 * to call anyone. Use it for every phone number or wa_id that reaches a log.
 */
export function maskPhoneNumber(input: string): string {
  const digits = input.replace(/\D/g, "");
  if (digits.length <= 5) return "*".repeat(digits.length);
  return `${input.trim().startsWith("+") ? "+" : ""}${digits.slice(0, 3)}${"*".repeat(digits.length - 5)}${digits.slice(-2)}`;
}

/**
 * Normalises user input to E.164 with libphonenumber-js.
 *
 * Input with `+` or `00` is international. Without it, the number is read in `defaultCountry`
 * (the business number's country: this is what Meta does when `+` is missing) and, failing
 * that, as international digits. Throws InvalidPhoneNumberError (message masked) otherwise.
 */
export function normalizePhoneNumber(
  input: string,
  options: { readonly defaultCountry?: CountryCode } = {},
): NormalizedPhone {
  // A pure function of its arguments, called for every send with the same few contacts and
  // business numbers over and over: libphonenumber's parse was 4.5 % of the router's CPU.
  const key = `${options.defaultCountry ?? ""} ${input}`;
  const known = normalized.get(key);
  if (known !== undefined) return known;
  const result = Object.freeze(parsePhone(input, options));
  if (normalized.size >= NORMALIZED_MAX) {
    const oldest = normalized.keys().next();
    if (oldest.done !== true) normalized.delete(oldest.value);
  }
  normalized.set(key, result);
  return result;
}

/** Numbers already normalised, oldest first; invalid input is not kept (it throws each time). */
const normalized = new Map<string, NormalizedPhone>();
const NORMALIZED_MAX = 20_000;

function parsePhone(
  input: string,
  options: { readonly defaultCountry?: CountryCode },
): NormalizedPhone {
  const trimmed = input.trim();
  const masked = maskPhoneNumber(trimmed);
  if (!/^[+\d\s\-().]+$/.test(trimmed)) {
    throw new InvalidPhoneNumberError(
      masked,
      "only digits, +, spaces, dashes, dots and parentheses are allowed",
    );
  }
  const compact = trimmed.replace(/[\s\-().]/g, "");
  const candidates: string[] = [];
  if (compact.startsWith("+")) candidates.push(compact);
  else if (compact.startsWith("00")) candidates.push(`+${compact.slice(2)}`);
  else candidates.push(compact, `+${compact}`);

  // Prefer a number libphonenumber knows to be valid; accept a merely possible one (right length for
  // its country) so that new ranges and Meta's +1 555 test numbers are not refused by stale metadata.
  let possible: NormalizedPhone | undefined;
  for (const candidate of candidates) {
    const parsed = candidate.startsWith("+")
      ? parsePhoneNumberFromString(candidate)
      : options.defaultCountry !== undefined
        ? parsePhoneNumberFromString(candidate, options.defaultCountry)
        : undefined;
    if (!parsed?.isPossible()) continue;
    const result: NormalizedPhone = {
      e164: parsed.number,
      digits: parsed.number.slice(1),
      country: parsed.country ?? parsed.getPossibleCountries()[0],
      countryCallingCode: parsed.countryCallingCode,
      valid: parsed.isValid(),
    };
    if (result.valid) return result;
    possible ??= result;
  }
  if (possible) return possible;
  throw new InvalidPhoneNumberError(masked, "not a possible phone number for any country");
}

/**
 * Every wa_id under which WhatsApp may know the same person, starting with the one given.
 * Meta rewrites some numbers (reference §10): Brazil drops the mobile 9 for older accounts
 * (55 AA 9XXXXXXXX <-> 55 AA XXXXXXXX), Mexico reports 521 + 10 digits for 52 + 10, and
 * Argentina 549 + 10 for 54 + 10. Store the wa_id Meta returns; match inbound `from` with this.
 */
export function waIdAliases(waId: string): readonly string[] {
  const d = waId.replace(/\D/g, "");
  const out = [d];
  if (/^55\d{2}9\d{8}$/.test(d)) out.push(d.slice(0, 4) + d.slice(5));
  else if (/^55\d{2}[6-9]\d{7}$/.test(d)) out.push(`${d.slice(0, 4)}9${d.slice(4)}`);
  else if (/^521\d{10}$/.test(d)) out.push(`52${d.slice(3)}`);
  else if (/^52\d{10}$/.test(d)) out.push(`521${d.slice(2)}`);
  else if (/^549\d{10}$/.test(d)) out.push(`54${d.slice(3)}`);
  else if (/^54\d{10}$/.test(d)) out.push(`549${d.slice(2)}`);
  return out;
}

/** True when two wa_ids (or E.164 numbers) address the same WhatsApp user under Meta's rewriting. */
export function sameWhatsAppUser(a: string, b: string): boolean {
  const bd = b.replace(/\D/g, "");
  return waIdAliases(a).includes(bd);
}
