import { z } from "zod";
import { isTimeZone } from "../domain/campaign.js";

/**
 * A query audience (issue 27: "opted in to marketing, country, last inbound within 30 days"): the
 * document uploaded with `format=query` instead of a file. The campaigns service reads its
 * members page by page from the projection's query API (`GET /v1/audience`, its own key with
 * scope `query:pii`) and plans each as a row of a file would be, with the same exclusions and
 * report. `params` are the template's body parameters, the same for every member; `paramsFrom`
 * maps a body parameter to a field of each member's contact (`profileName`, the WhatsApp profile
 * name last seen; `country`), its value per recipient, `params` of the same name the fallback
 * when the contact has none (else the member is skipped `missing_parameter`, as a file row
 * without the value); `timeZone` the members' zone for quiet hours (else the schedule's default).
 * `at` pins "within N days" (set at upload when absent), so a resumed plan reads the same query.
 */
const consent = z.enum(["granted", "revoked", "unknown"]);

/** The contact fields a query audience may take a member's parameter from (the projection's). */
export const memberFields = ["profileName", "country"] as const;
export type MemberField = (typeof memberFields)[number];
const paramName = z.string().regex(/^[a-z0-9_]{1,64}$/, "a parameter name ([a-z0-9_], 1 to 64)");
const instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());

export const audienceQuery = z
  .strictObject({
    marketing: consent.optional(),
    utility: consent.optional(),
    countries: z
      .array(z.string().regex(/^[A-Z]{2}$/, "an ISO 3166-1 alpha-2 code (BR)"))
      .min(1)
      .max(250)
      .optional(),
    callingCodes: z
      .array(z.string().regex(/^[1-9]\d{0,2}$/, "a calling code (55)"))
      .min(1)
      .max(50)
      .optional(),
    lastInboundWithinDays: z.number().int().min(1).max(3_650).optional(),
    firstSeenFrom: instant.optional(),
    firstSeenTo: instant.optional(),
    at: instant.optional(),
    params: z
      .record(z.string().regex(/^[a-z0-9_]{1,64}$/), z.string().min(1).max(1_024))
      .refine((p) => Object.keys(p).length <= 50, "at most 50 parameters")
      .optional(),
    paramsFrom: z
      .record(
        paramName,
        z.enum(memberFields, {
          error: `a member field: ${memberFields.join(" or ")}`,
        }),
      )
      .refine((p) => Object.keys(p).length <= 50, "at most 50 parameters")
      .optional(),
    timeZone: z.string().refine(isTimeZone, "an IANA time zone (Europe/Berlin)").optional(),
  })
  .refine(
    (q) =>
      q.firstSeenFrom === undefined ||
      q.firstSeenTo === undefined ||
      // zod runs this on refused values too: only their own problem is named then.
      typeof q.firstSeenFrom !== "string" ||
      typeof q.firstSeenTo !== "string" ||
      Number.isNaN(Date.parse(q.firstSeenFrom)) ||
      Number.isNaN(Date.parse(q.firstSeenTo)) ||
      Date.parse(q.firstSeenFrom) < Date.parse(q.firstSeenTo),
    { path: ["firstSeenTo"], message: "must be after firstSeenFrom" },
  );
export type AudienceQuery = z.output<typeof audienceQuery>;

/** What the projection's audience answers of a member that a parameter may come from. */
export type MemberValues = { readonly contactId: string } & Partial<Record<MemberField, string>>;

/**
 * A member's body parameters: the query's `params`, then each `paramsFrom` parameter with the
 * member's value of its field (trimmed, at most 1,024 characters like a given value); a field
 * the member lacks (or blank) keeps the `params` fallback, or leaves the parameter out (the
 * planner skips the member `missing_parameter`, naming it).
 */
export function paramsOfMember(
  q: Pick<AudienceQuery, "params" | "paramsFrom">,
  member: MemberValues,
): Readonly<Record<string, string>> {
  const base = q.params ?? {};
  if (q.paramsFrom === undefined) return base;
  // Entries, not assignments: a parameter named `__proto__` stays an own property.
  const mapped: [string, string][] = [];
  for (const [name, field] of Object.entries(q.paramsFrom)) {
    const value = member[field]?.trim().slice(0, 1_024);
    if (value !== undefined && value !== "") mapped.push([name, value]);
  }
  return Object.fromEntries([...Object.entries(base), ...mapped]);
}

/** The query API's parameters for a query (lists comma-joined, `at` pinned). */
export function searchOf(q: AudienceQuery & { at: string }): URLSearchParams {
  const s = new URLSearchParams();
  if (q.marketing !== undefined) s.set("marketing", q.marketing);
  if (q.utility !== undefined) s.set("utility", q.utility);
  if (q.countries !== undefined) s.set("country", q.countries.join(","));
  if (q.callingCodes !== undefined) s.set("callingCode", q.callingCodes.join(","));
  if (q.lastInboundWithinDays !== undefined)
    s.set("lastInboundWithinDays", String(q.lastInboundWithinDays));
  if (q.firstSeenFrom !== undefined) s.set("firstSeenFrom", q.firstSeenFrom);
  if (q.firstSeenTo !== undefined) s.set("firstSeenTo", q.firstSeenTo);
  s.set("at", q.at);
  return s;
}
