import { z } from "zod";

/**
 * A sensitive operation (docs/access-control.md, "Audit"): done through an API (v1), or, since
 * v2, at the command line (a dead-letter re-drive, `authMethod: "cli"`) or by a service itself
 * (a key ring or JWKS reloaded with changes, `authMethod: "service"`), which have no HTTP method,
 * route or status and say what they did in `details`.
 */
export const auditRecorded = z.object({
  action: z
    .string()
    .regex(/^[a-z]+(\.[a-z_]+)+$/)
    .describe("What was done, e.g. consent.erased, media.deleted (the route's x-parley-audit)."),
  service: z.string().min(1).describe("The service (or command) that did it."),
  actorId: z
    .string()
    .min(1)
    .describe(
      "The API key id or the token's subject; the operator named at the command line; the service itself.",
    ),
  authMethod: z.enum(["api-key", "jwt", "cli", "service"]),
  role: z.string().optional().describe("The caller's role, when it has one."),
  method: z.string().min(1).optional().describe("The HTTP method (API operations)."),
  route: z
    .string()
    .min(1)
    .optional()
    .describe("The OpenAPI path of the operation (API operations)."),
  target: z
    .record(z.string(), z.string())
    .describe("The operation's path parameters (ids, never bodies), or what it acted on."),
  status: z
    .number()
    .int()
    .min(100)
    .max(599)
    .optional()
    .describe("The HTTP status it answered (API operations)."),
  details: z
    .record(
      z.string().max(64),
      z.union([
        z.string().max(1_024),
        z.number(),
        z.boolean(),
        z.array(z.string().max(256)).max(1_000),
      ]),
    )
    .optional()
    .describe(
      "What a command or a service did (counts, filters, key ids added and removed); never secrets.",
    ),
});
