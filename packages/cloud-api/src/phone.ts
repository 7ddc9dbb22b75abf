import { parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js";
import { InvalidPhoneNumberError } from "./errors.js";

export type { CountryCode } from "libphonenumber-js";

export interface NormalizedPhone {
  /** `+` and digits, e.g. `+5511987654321`. Send this as `to`: with the `+`, Meta prepends nothing. */
  readonly e164: string;
  /** Digits only: the number as given, before Meta rewrites it (see contactIdOf in @parley/contracts). */
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

/**
 * The country of an international number given as digits after `+` (a canonical phone contact id),
 * or undefined when it is no possible number: what `normalizePhoneNumber(\`+${digits}\`)` answers
 * for `country` (or throws), without the validity check (every number type's pattern), the mask
 * and the cache, none of which a bulk pass over distinct numbers uses (campaign planning: the
 * parse was its largest CPU cost, docs/benchmarks.md "Campaigns"). `possible: false` for input
 * that is not 1 to 15 digits.
 */
export function possiblePhoneCountry(
  digits: string,
):
  | { readonly possible: true; readonly country: CountryCode | undefined }
  | { readonly possible: false } {
  if (!/^\d{1,15}$/.test(digits)) return { possible: false };
  const parsed = parsePhoneNumberFromString(`+${digits}`);
  if (!parsed?.isPossible()) return { possible: false };
  return { possible: true, country: parsed.country ?? parsed.getPossibleCountries()[0] };
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
