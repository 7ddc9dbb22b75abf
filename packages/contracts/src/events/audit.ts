import { z } from "zod";

/** A sensitive operation done through an API (docs/access-control.md, "Audit"). */
export const auditRecorded = z.object({
  action: z
    .string()
    .regex(/^[a-z]+(\.[a-z_]+)+$/)
    .describe("What was done, e.g. consent.erased, media.deleted (the route's x-parley-audit)."),
  service: z.string().min(1).describe("The service whose API did it."),
  actorId: z.string().min(1).describe("The API key id or the token's subject."),
  authMethod: z.enum(["api-key", "jwt"]),
  role: z.string().optional().describe("The caller's role, when it has one."),
  method: z.string().min(1),
  route: z.string().min(1).describe("The OpenAPI path of the operation."),
  target: z
    .record(z.string(), z.string())
    .describe("The operation's path parameters (ids, never bodies)."),
  status: z.number().int().min(100).max(599).describe("The HTTP status it answered."),
});
