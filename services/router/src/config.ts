import { chassisFields, env, infraFields } from "@parley/config";
import { z } from "zod";
import { defaultKeywords } from "./inbound/keywords.js";

/** A comma-separated keyword list; unset keeps the multilingual defaults. */
const keywordList = (defaults: readonly string[]) =>
  z
    .string()
    .optional()
    .transform((v) =>
      v === undefined
        ? [...defaults]
        : v
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s.length > 0),
    );

const HOUR_MS = 60 * 60 * 1000;

/** Every variable router reads, with its type and default (README.md, "Configuration"). */
export const configSchema = z.object({
  ...infraFields,
  ...chassisFields,
  HTTP_PORT: env.port(8082),
  /** Prepended to every topic name (tests); production leaves it empty. */
  PARLEY_TOPIC_PREFIX: z.string().default(""),
  /** Whole-message opt-out replies (case, accent and whitespace insensitive). */
  ROUTER_STOP_KEYWORDS: keywordList(defaultKeywords.stop),
  /** Whole-message opt-in replies. */
  ROUTER_START_KEYWORDS: keywordList(defaultKeywords.start),
  /** Customer-service window length; Meta's is 24 h. */
  ROUTER_WINDOW_MS: env.int(24 * HOUR_MS, { min: 60_000 }),
  /** Dedupe identities kept per contact and kind (messages, statuses, preferences). */
  ROUTER_DEDUPE_MAX_IDS: env.int(500, { min: 1, max: 100_000 }),
  /** How long an identity is remembered; Meta retries a webhook for up to 7 days. */
  ROUTER_DEDUPE_TTL_MS: env.int(8 * 24 * HOUR_MS, { min: 60_000 }),
  /** Contacts whose state is kept in memory between webhooks (least recently used go); 0: none. */
  ROUTER_STATE_CACHE_SIZE: env.int(1_000, { min: 0, max: 1_000_000 }),
  /** Raw webhooks taken but not finished before the consumer stops fetching. */
  ROUTER_MAX_IN_FLIGHT: env.int(200, { min: 1, max: 10_000 }),
});

export type Config = z.infer<typeof configSchema>;
