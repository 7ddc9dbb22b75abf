import {
  apiAccessFields,
  apiKeyEntry,
  apiKeyList,
  chassisFields,
  checkApiAccess,
  env,
  infraFields,
} from "@parley/config";
import { numbersFields } from "@parley/numbers";
import { z } from "zod";
import { messagingLimitTiers } from "./domain/limits.js";

/**
 * What a campaigns API key may do: `read` campaigns, progress and plan reports, `write` create
 * campaigns and upload audiences, `control` start, pause, resume and cancel.
 */
export const scopes = ["read", "write", "control"] as const;
export type Scope = (typeof scopes)[number];

const apiKeyEntryOf = apiKeyEntry(scopes, {});
export type ApiKeyEntry = z.infer<typeof apiKeyEntryOf>;

/** Every variable campaigns reads, with its type and default (README.md, "Configuration"). */
export const configSchema = z
  .object({
    ...infraFields,
    ...chassisFields,
    ...numbersFields,
    HTTP_PORT: env.port(8087),
    /** Prepended to every topic name (tests); production leaves it empty. */
    PARLEY_TOPIC_PREFIX: z.string().default(""),
    /**
     * The campaigns API's keys as JSON (`[{ id, keySha256, scopes | role, expiresAt? }]`, hashes
     * only; from a file with CAMPAIGNS_API_KEYS_FILE). No key and no bearer JWT issuer: the API is off.
     */
    CAMPAIGNS_API_KEYS: apiKeyList(apiKeyEntryOf),
    ...apiAccessFields,
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
    /**
     * How far the release runs ahead of the sender, in ms of each number's cap: the sender's queue
     * holds about this much, so a late tick does not leave a number idle (0: a tick's worth only).
     * A pause stops the release at the next tick; what was released (a tick plus this) still goes.
     */
    CAMPAIGNS_RELEASE_LEAD_MS: env.int(1_000, { min: 0, max: 60_000 }),
    /** A running campaign pauses when more than this share of its settled sends failed. */
    CAMPAIGNS_FAILURE_RATE_THRESHOLD: z.coerce.number().min(0).max(1).default(0.2),
    /**
     * The operator's rate card (@parley/pricing; the projection reads the same variable): the
     * forecast and the reconciled cost. Unset: no forecast (409) and progress without cost.
     */
    PARLEY_RATE_CARD_FILE: z.string().min(1).optional(),
    /** The projection's query API, where query audiences are read (`GET /v1/audience`). */
    CAMPAIGNS_PROJECTION_URL: z.url().optional(),
    /** The campaigns service's own query API key (scope `query:pii`; or _FILE). */
    CAMPAIGNS_PROJECTION_API_KEY: env.secret().optional(),
    /** Contacts scanned per page of a query audience. */
    CAMPAIGNS_PROJECTION_PAGE: env.int(1_000, { min: 1, max: 1_000 }),
  })
  .superRefine(checkApiAccess);

export type Config = z.infer<typeof configSchema>;
