import { z } from "zod";
import type { ContactState } from "../domain/contact.js";

/**
 * The audience query (`GET /v1/audience`, docs/projection-api.md, "Audience"): the contacts of
 * the read model that match a declared query (consent per purpose, country, calling code, last
 * inbound within N days of an instant, first seen in a range), in contact-id order, a page of
 * scanned contacts at a time. Parameters are strict bounded strings, like every query route's:
 * an unknown, repeated or malformed one is a 400 naming it.
 */

export type ConsentState = "granted" | "revoked" | "unknown";
const consentState = z.enum(["granted", "revoked", "unknown"]);
const instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());

/** A comma-separated list of distinct items, each matching `item`, at most `max`. */
const listOf = (item: RegExp, max: number, what: string) =>
  z
    .string()
    .max(max * 8)
    .transform((s, ctx) => {
      const items = s.split(",");
      if (items.length > max || items.some((i) => !item.test(i))) {
        ctx.addIssue({
          code: "custom",
          message: `a comma-separated list of at most ${String(max)} ${what}`,
        });
        return z.NEVER;
      }
      return [...new Set(items)];
    });

/** Where a page resumes: the last contact id scanned (opaque to callers). */
const cursor = z
  .string()
  .max(2_048)
  .transform((s, ctx) => {
    const id = /^[A-Za-z0-9_-]+$/.test(s) ? Buffer.from(s, "base64url").toString("utf8") : "";
    if (
      id.length === 0 ||
      id.length > 1_024 ||
      Buffer.from(id, "utf8").toString("base64url") !== s
    ) {
      ctx.addIssue({ code: "custom", message: "not a cursor this API gave out (use next)" });
      return z.NEVER;
    }
    return id;
  });

export const audienceParams = z
  .strictObject({
    marketing: consentState.optional(),
    utility: consentState.optional(),
    country: listOf(/^[A-Z]{2}$/, 250, "ISO 3166-1 alpha-2 codes (BR,IN)").optional(),
    callingCode: listOf(/^[1-9]\d{0,2}$/, 50, "calling codes (55,91)").optional(),
    lastInboundWithinDays: z.coerce.number().int().min(1).max(3_650).optional(),
    firstSeenFrom: instant.optional(),
    firstSeenTo: instant.optional(),
    /** The instant "within N days" counts back from (default: now): a paged read pins it. */
    at: instant.optional(),
    limit: z.coerce.number().int().min(1).max(1_000).default(500),
    cursor: cursor.optional(),
    generation: z.coerce.number().int().min(1).max(1_000_000).optional(),
  })
  .refine(
    (p) =>
      p.firstSeenFrom === undefined ||
      p.firstSeenTo === undefined ||
      // Either refused already (zod runs this on the raw text then): only it is named.
      Number.isNaN(Date.parse(p.firstSeenFrom)) ||
      Number.isNaN(Date.parse(p.firstSeenTo)) ||
      Date.parse(p.firstSeenFrom) < Date.parse(p.firstSeenTo),
    { path: ["firstSeenTo"], message: "must be after firstSeenFrom" },
  );
export type AudienceParams = z.output<typeof audienceParams>;

export const encodeAudienceCursor = (contactId: string): string =>
  Buffer.from(contactId, "utf8").toString("base64url");

/** The fields of a contact document the audience reads (the rest stays on the server). */
export type AudienceContact = Pick<
  ContactState,
  "contactId" | "consent" | "preference" | "firstSeenAt" | "lastInboundAt" | "country" | "erased"
> & {
  readonly _id: string;
  /** The WhatsApp profile name the contact last showed (a campaign's per-member parameter). */
  readonly profileName?: ContactState["profileName"];
};

/**
 * A contact's consent for a purpose, as the campaigns service folds it: the latest fact of a
 * scope that covers the purpose (`marketing` or `all` for marketing, `all` for utility), a
 * revocation winning a tie; Meta's marketing stop (user_preferences), when later, revokes
 * marketing too.
 */
export function consentOf(
  contact: Pick<AudienceContact, "consent" | "preference">,
  purpose: "marketing" | "utility",
): ConsentState {
  let best: { at: string; state: "granted" | "revoked" } | undefined;
  const consider = (at: string, state: "granted" | "revoked") => {
    if (best === undefined || at > best.at || (at === best.at && state === "revoked"))
      best = { at, state };
  };
  // Scopes are `all` and `marketing`: every fact covers marketing, only `all` covers utility.
  for (const f of contact.consent) {
    if (f.scope === "all" || purpose === "marketing") consider(f.at, f.state);
  }
  const p = contact.preference;
  if (purpose === "marketing" && p !== undefined && /marketing/i.test(p.category)) {
    if (/^stop$/i.test(p.value)) consider(p.at, "revoked");
    else if (/^resume$/i.test(p.value)) consider(p.at, "granted");
  }
  return best?.state ?? "unknown";
}

/** The calling code a contact id starts with (E.164 digits), among `codes`. */
const callingCodeMatches = (contactId: string, codes: readonly string[]): boolean =>
  /^\d+$/.test(contactId) && codes.some((c) => contactId.startsWith(c));

/** Whether a contact belongs to the audience at `nowMs` (`p.at` when given). */
export function matchesAudience(
  contact: AudienceContact,
  p: AudienceParams,
  nowMs: number,
): boolean {
  if (contact.erased === true) return false;
  if (p.marketing !== undefined && consentOf(contact, "marketing") !== p.marketing) return false;
  if (p.utility !== undefined && consentOf(contact, "utility") !== p.utility) return false;
  if (p.country !== undefined && !p.country.includes(contact.country ?? "")) return false;
  if (p.callingCode !== undefined && !callingCodeMatches(contact._id, p.callingCode)) return false;
  if (p.lastInboundWithinDays !== undefined) {
    const at = p.at === undefined ? nowMs : Date.parse(p.at);
    const since = at - p.lastInboundWithinDays * 86_400_000;
    const last =
      contact.lastInboundAt === undefined ? Number.NaN : Date.parse(contact.lastInboundAt);
    if (!(last >= since && last <= at)) return false;
  }
  if (p.firstSeenFrom !== undefined || p.firstSeenTo !== undefined) {
    const first = contact.firstSeenAt;
    if (first === undefined) return false;
    const t = new Date(first).toISOString();
    if (p.firstSeenFrom !== undefined && t < p.firstSeenFrom) return false;
    if (p.firstSeenTo !== undefined && t >= p.firstSeenTo) return false;
  }
  return true;
}

/** One member of the audience as the API gives it: what a campaign plans a row from. */
export interface AudienceMember {
  readonly contactId: string;
  readonly country?: string;
  readonly marketing: ConsentState;
  readonly utility: ConsentState;
  readonly lastInboundAt?: string;
  /** The contact's WhatsApp profile name, when one was seen (scope `query:pii`, like the number). */
  readonly profileName?: string;
}

export const memberOf = (c: AudienceContact): AudienceMember => ({
  contactId: c._id,
  ...(c.country === undefined ? {} : { country: c.country }),
  marketing: consentOf(c, "marketing"),
  utility: consentOf(c, "utility"),
  ...(c.lastInboundAt === undefined ? {} : { lastInboundAt: c.lastInboundAt }),
  ...(c.profileName === undefined ? {} : { profileName: c.profileName.value }),
});

/** Port: contacts of a generation after `after` in id order, `limit` scanned at most. */
export interface AudienceStore {
  scan(
    generation: number,
    p: AudienceParams,
    after: string | undefined,
    limit: number,
  ): Promise<readonly AudienceContact[]>;
}

export interface AudiencePage {
  readonly items: readonly AudienceMember[];
  /** Absent on the last page; a page may hold fewer items than `limit` (or none) and go on. */
  readonly next?: string;
  /** The instant the query was evaluated at: pass it as `at` with `next` for a stable read. */
  readonly at: string;
}

/**
 * The audience use case: one page of `limit` scanned contacts (the store narrows what it can:
 * country, last inbound, first seen; the rest is decided here), matching ones as members.
 */
export function createAudienceQueries({
  store,
  active,
  exists,
  now = () => Date.now(),
}: {
  store: AudienceStore;
  active: () => number;
  /** Whether a generation asked for exists (undefined: the caller's 404). */
  exists: (generation: number) => Promise<boolean>;
  now?: () => number;
}) {
  return {
    async page(p: AudienceParams): Promise<AudiencePage | undefined> {
      const generation = p.generation ?? active();
      if (p.generation !== undefined && !(await exists(p.generation))) return undefined;
      const at = p.at ?? new Date(now()).toISOString();
      const pinned = { ...p, at };
      const scanned = await store.scan(generation, pinned, p.cursor, p.limit);
      const items = scanned.filter((c) => matchesAudience(c, pinned, Date.parse(at))).map(memberOf);
      const last = scanned.at(-1);
      return scanned.length >= p.limit && last !== undefined
        ? { items, next: encodeAudienceCursor(last._id), at }
        : { items, at };
    },
  };
}
export type AudienceQueries = ReturnType<typeof createAudienceQueries>;
