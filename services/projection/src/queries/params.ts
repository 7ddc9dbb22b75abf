import { z } from "zod";

/**
 * The query API's parameters: one schema per route, strict (an unknown or repeated parameter is
 * refused, never ignored), every value a bounded string matched against what it may be. Values
 * only ever become equality filters, so no parameter can carry a query operator.
 */

/** Where a list resumes: the sort time and id of the last item of the previous page. */
export interface Cursor {
  readonly at: string;
  readonly id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id]), "utf8").toString("base64url");
}

export function decodeCursor(text: string): Cursor | undefined {
  if (text.length > 2_048 || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === "string" &&
      typeof value[1] === "string" &&
      value[0].length <= 64 &&
      value[1].length <= 1_024
    )
      return { at: value[0], id: value[1] };
  } catch {
    return undefined;
  }
  return undefined;
}

const text = (max: number) => z.string().min(1).max(max);
const instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());
const dateOrInstant = z
  .union([z.iso.date(), z.iso.datetime({ offset: true })])
  .transform((s) => new Date(s.length === 10 ? `${s}T00:00:00.000Z` : s).toISOString());

const page = {
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z
    .string()
    .transform((s, ctx) => {
      const cursor = decodeCursor(s);
      if (cursor === undefined) {
        ctx.addIssue({
          code: "custom",
          message: "not a cursor this API gave out (use next from a page)",
        });
        return z.NEVER;
      }
      return cursor;
    })
    .optional(),
  from: instant.optional(),
  to: instant.optional(),
};
const generation = { generation: z.coerce.number().int().min(1).max(1_000_000).optional() };

export const decisions = [
  "requested",
  "dispatched",
  "in_doubt",
  "accepted",
  "reconciled",
  "rejected",
  "failed",
  "expired",
  "deduplicated",
  "unknown",
] as const;

export const requestListParams = z.strictObject({
  ...page,
  ...generation,
  contactId: text(256).optional(),
  businessNumber: text(64).optional(),
  template: text(512).optional(),
  category: text(64).optional(),
  status: z.enum(decisions).optional(),
  requester: text(128).optional(),
  idempotencyKey: text(256).optional(),
});

export const messageListParams = z.strictObject({
  ...page,
  ...generation,
  direction: z.enum(["inbound", "outbound"]).optional(),
  contactId: text(256).optional(),
  businessNumber: text(64).optional(),
  template: text(512).optional(),
  category: text(64).optional(),
  status: z.enum(["received", "sent", "delivered", "read", "played", "failed"]).optional(),
  requestId: text(256).optional(),
});

export const contactListParams = z.strictObject({ ...page, ...generation });

export const conversationListParams = z.strictObject({
  ...page,
  ...generation,
  contactId: text(256).optional(),
  businessNumber: text(64).optional(),
});

export const itemParams = z.strictObject({ ...generation });

export const dimensions = [
  "direction",
  "businessNumber",
  "template",
  "category",
  "country",
] as const;
export type Dimension = (typeof dimensions)[number];

const MAX_RANGE_MS = 366 * 24 * 3_600_000;

export const seriesParams = z
  .strictObject({
    ...generation,
    from: dateOrInstant,
    to: dateOrInstant,
    granularity: z.enum(["hour", "day", "total"]).default("day"),
    groupBy: z
      .string()
      .max(200)
      .transform((s, ctx) => {
        const parts = s
          .split(",")
          .map((p) => p.trim())
          .filter((p) => p !== "");
        const unknown = parts.filter((p) => !(dimensions as readonly string[]).includes(p));
        if (unknown.length > 0) {
          ctx.addIssue({
            code: "custom",
            message: `unknown dimension ${unknown.join(", ")}; use ${dimensions.join(", ")}`,
          });
          return z.NEVER;
        }
        return [...new Set(parts)] as Dimension[];
      })
      .default([]),
    direction: z.enum(["out", "in"]).optional(),
    businessNumber: text(64).optional(),
    template: text(512).optional(),
    category: text(64).optional(),
    country: z
      .string()
      .regex(/^([A-Z]{2}|-)$/, "an ISO 3166 alpha-2 code, or - for unknown")
      .optional(),
  })
  .superRefine((p, ctx) => {
    const span = Date.parse(p.to) - Date.parse(p.from);
    if (span <= 0) ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
    if (span > MAX_RANGE_MS)
      ctx.addIssue({ code: "custom", path: ["to"], message: "at most 366 days after from" });
  });

export const kpiParams = z
  .strictObject({
    ...generation,
    from: dateOrInstant,
    to: dateOrInstant,
    businessNumber: text(64).optional(),
    wabaId: text(64).optional(),
  })
  .superRefine((p, ctx) => {
    const span = Date.parse(p.to) - Date.parse(p.from);
    if (span <= 0) ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
    if (span > MAX_RANGE_MS)
      ctx.addIssue({ code: "custom", path: ["to"], message: "at most 366 days after from" });
  });

/** One refused parameter: which and why. */
export interface ParameterProblem {
  readonly parameter: string;
  readonly detail: string;
}

/**
 * Parses a route's query parameters. Express gives repeated parameters as arrays and bracketed
 * ones as objects: both are refused by name, before the schema sees them.
 */
export function parseParams<T extends z.ZodType>(
  schema: T,
  query: Readonly<Record<string, unknown>>,
): { ok: true; value: z.output<T> } | { ok: false; problems: ParameterProblem[] } {
  const problems: ParameterProblem[] = [];
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    if (typeof value === "string") flat[name] = value;
    else
      problems.push({
        parameter: name,
        detail: "given more than once, or with brackets: give it once",
      });
  }
  if (problems.length > 0) return { ok: false, problems };
  const parsed = schema.safeParse(flat);
  if (parsed.success) return { ok: true, value: parsed.data };
  for (const issue of parsed.error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) problems.push({ parameter: key, detail: "unknown parameter" });
      continue;
    }
    problems.push({ parameter: String(issue.path[0] ?? ""), detail: issue.message });
  }
  return { ok: false, problems };
}
