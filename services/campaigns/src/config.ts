import { chassisFields, env, infraFields } from "@parley/config";
import { numbersFields } from "@parley/numbers";
import { z } from "zod";
import { messagingLimitTiers } from "./domain/limits.js";

/**
 * What a campaigns API key may do: `read` campaigns, progress and plan reports, `write` create
 * campaigns and upload audiences, `control` start, pause, resume and cancel.
 */
export const scopes = ["read", "write", "control"] as const;
export type Scope = (typeof scopes)[number];

const apiKeyEntry = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' or '-', 1 to 64"),
  keySha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'the hex SHA-256 of the key (printf %s "$KEY" | sha256sum)'),
  scopes: z.array(z.enum(scopes)).min(1),
});
export type ApiKeyEntry = z.infer<typeof apiKeyEntry>;

const apiKeys = z
  .string()
  .optional()
  .transform((json, ctx): readonly ApiKeyEntry[] => {
    if (json === undefined || json.trim() === "") return [];
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (error) {
      ctx.addIssue({
        code: "custom",
        message: `not JSON (${error instanceof Error ? error.message : String(error)})`,
      });
      return [];
    }
    const parsed = z.array(apiKeyEntry).safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        ctx.addIssue({
          code: "custom",
          message: `${issue.path.map((p) => `[${String(p)}]`).join("")}: ${issue.message}`,
        });
      }
      return [];
    }
    return parsed.data;
  });

/** Every variable campaigns reads, with its type and default (README.md, "Configuration"). */
export const configSchema = z.object({
  ...infraFields,
  ...chassisFields,
  ...numbersFields,
  HTTP_PORT: env.port(8087),
  /** Prepended to every topic name (tests); production leaves it empty. */
  PARLEY_TOPIC_PREFIX: z.string().default(""),
  /** The campaigns API's keys as JSON (`[{ id, keySha256, scopes }]`); none: the API is off. */
  CAMPAIGNS_API_KEYS: apiKeys,
  CAMPAIGNS_API_HOST: env.string().optional(),
  CAMPAIGNS_API_PORT: env.port(8094),
  /** Largest JSON body (a campaign definition); an audience upload streams and has its own cap. */
  CAMPAIGNS_API_MAX_BODY_BYTES: env.int(65_536, { min: 1_024 }),
  /** Largest audience file. */
  CAMPAIGNS_AUDIENCE_MAX_BYTES: env.int(2_147_483_648, { min: 1_024 }),
  /** Where uploaded audiences are kept until their campaign ends (a resumed plan reads them again). */
  CAMPAIGNS_AUDIENCE_DIR: z.string().min(1).default(".parley/campaigns/audiences"),
  /** The portfolio's messaging limit tier (250, 2000, 10000, 100000, unlimited; ADR 0015). */
  CAMPAIGNS_MESSAGING_LIMIT: z.enum(messagingLimitTiers).default("250"),
  /** Rows decided, recorded and checkpointed together. */
  CAMPAIGNS_PLAN_CHUNK: env.int(1_000, { min: 1, max: 10_000 }),
  /** How often running campaigns release sends (each number's cap times this, per tick). */
  CAMPAIGNS_TICK_MS: env.int(1_000, { min: 100, max: 60_000 }),
  /** A running campaign pauses when more than this share of its settled sends failed. */
  CAMPAIGNS_FAILURE_RATE_THRESHOLD: z.coerce.number().min(0).max(1).default(0.2),
});

export type Config = z.infer<typeof configSchema>;
