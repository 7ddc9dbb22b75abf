import { normalizePhoneNumber } from "@parley/cloud-api";

const BSUID = /^([A-Z]{2})\./;

/**
 * The country of a canonical contact id (ADR 0008): a phone number's by its calling code and
 * range (libphonenumber, through @parley/cloud-api), a BSUID's by its region prefix. Undefined
 * when neither says: the analytics count such contacts under "-".
 */
export function countryOfContact(contactId: string): string | undefined {
  const bsuid = BSUID.exec(contactId);
  if (bsuid !== null) return bsuid[1];
  if (!/^\d{6,15}$/.test(contactId)) return undefined;
  try {
    return normalizePhoneNumber(`+${contactId}`).country;
  } catch {
    return undefined;
  }
}
