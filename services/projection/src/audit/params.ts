import { z } from "zod";
import { decodeCursor } from "../queries/params.js";

/**
 * `GET /v1/audit`'s parameters: strict like every list of the query API (an unknown or repeated
 * parameter is refused by name), each value a bounded string matched against what it may be,
 * and each only ever an equality filter or a range on the sort time.
 */
const text = (max: number) => z.string().min(1).max(max);
const instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());

/** An action (`consent.erased`) or every action of an area (`consent.*`). */
export const ACTION = /^[a-z]+(?:(?:\.[a-z_]+)+|\.\*)$/;

export const auditListParams = z
  .strictObject({
    actor: text(256).optional(),
    action: z
      .string()
      .max(128)
      .regex(ACTION, "an action (consent.erased) or an area's actions (consent.*)")
      .optional(),
    service: text(64).optional(),
    target: text(512).optional(),
    from: instant.optional(),
    to: instant.optional(),
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
    generation: z.coerce.number().int().min(1).max(1_000_000).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.from !== undefined && p.to !== undefined && Date.parse(p.to) <= Date.parse(p.from))
      ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
  });

export type AuditListParams = z.output<typeof auditListParams>;
