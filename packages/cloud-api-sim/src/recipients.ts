// Who a send reaches: phone number normalisation, Meta's wa_id rewriting (reference §10),
// BSUIDs and the simulated users.
import { createHash } from "node:crypto";
import { normalizePhoneNumber } from "@parley/cloud-api";
import { bounded, type Engine, type NumberState } from "./state.js";
import type { SimUser } from "./types.js";

export interface Recipients {
  /** Meta's rewriting of some countries' numbers: Brazil's legacy 12 digits, Mexico 521, Argentina 549. */
  canonicalWaId(digits: string): string;
  /** The wa_id a send's `to` reaches from this business number, or null when it is no number. */
  resolve(pn: NumberState, to: string): { waId: string } | null;
  /** The wa_id of a known BSUID, or null. */
  byUserId(bsuid: string): { waId: string } | null;
  ensureUser(waId: string, userId?: string): SimUser;
}

const MEXICO_WA_ID = /^521(\d{10})$/;

export function createRecipients(engine: Engine): Recipients {
  const { config, users, userIds } = engine;
  const normCache = new Map<string, { waId: string } | null>();

  function canonicalWaId(digits: string): string {
    if (config.brazilLegacyAccounts && /^55\d{2}9\d{8}$/.test(digits))
      return digits.slice(0, 4) + digits.slice(5);
    if (/^52\d{10}$/.test(digits)) return `521${digits.slice(2)}`;
    if (/^54\d{10}$/.test(digits)) return `549${digits.slice(2)}`;
    return digits;
  }

  function parse(pn: NumberState, to: string): { waId: string } | null {
    const digits = to.replace(/[\s\-()+]/g, "");
    // A wa_id Meta gave out (a user's `from`) reaches that user as it is, `+` or not, whatever
    // the country: replying to `from` works everywhere. Mexico's 521… form is not a dialable
    // number (libphonenumber refuses it), so it is read as the 52… number it stands for.
    if (/^\d+$/.test(digits)) {
      if (users.has(digits)) return { waId: digits };
      const mx = MEXICO_WA_ID.exec(digits);
      if (mx) return { waId: `521${mx[1] ?? ""}` };
    }
    try {
      // Without "+", Meta reads the number in the business number's country (reference §1.1).
      const n = normalizePhoneNumber(to, pn.country ? { defaultCountry: pn.country } : {});
      return { waId: canonicalWaId(n.digits) };
    } catch {
      return null;
    }
  }

  /** A stable BSUID per user: the region of the number and 20 digits from the seed. */
  function bsuidFor(waId: string): string {
    let region = "ZZ";
    const dialable = MEXICO_WA_ID.test(waId) ? `52${waId.slice(3)}` : waId;
    try {
      region = normalizePhoneNumber(`+${dialable}`).country ?? "ZZ";
    } catch {
      // not a dialable number: keep ZZ
    }
    const hash = createHash("sha256").update(`${config.seed}:bsuid:${waId}`).digest();
    let out = String(1 + ((hash[0] ?? 0) % 9));
    for (let i = 1; out.length < 20; i++) out += String((hash[i] ?? 0) % 10);
    return `${region}.${out}`;
  }

  return {
    canonicalWaId,
    resolve(pn, to) {
      // With "+", Meta only strips punctuation; the full parse is needed only to prepend a country.
      if (to.startsWith("+") && /^\+[\d\s\-()]+$/.test(to)) {
        const digits = to.replace(/\D/g, "");
        if (digits.length >= 8 && digits.length <= 15 && digits[0] !== "0")
          return { waId: canonicalWaId(digits) };
      }
      const key = `${pn.country ?? pn.countryCallingCode}|${to}`;
      const cached = normCache.get(key);
      if (cached !== undefined) return cached;
      const result = parse(pn, to);
      // Known users change the answer for their own wa_id: only parses that do not depend on
      // them are cached.
      if (!users.has(to.replace(/[\s\-()+]/g, ""))) {
        normCache.set(key, result);
        bounded(normCache, 50_000);
      }
      return result;
    },
    byUserId(bsuid) {
      const waId = userIds.get(bsuid);
      return waId === undefined ? null : { waId };
    },
    ensureUser(waId, userId) {
      let u = users.get(waId);
      if (!u) {
        u = {
          waId,
          userId: userId ?? bsuidFor(waId),
          name: `User ${waId.slice(-4)}`,
          readReceipts: true,
        };
        users.set(waId, u);
        userIds.set(u.userId, waId);
        bounded(users, 1_000_000);
        bounded(userIds, 1_000_000);
      }
      return u;
    },
  };
}
