import { chassisFields, env, infraFields } from "@parley/config";
import { numbersFields } from "@parley/numbers";
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

const MINUTE_MS = 60 * 1000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Every variable router reads, with its type and default (README.md, "Configuration"). */
export const configSchema = z.object({
  ...infraFields,
  ...chassisFields,
  HTTP_PORT: env.port(8082),
  /** Prepended to every topic name (tests); production leaves it empty. */
  PARLEY_TOPIC_PREFIX: z.string().default(""),
  /**
   * Who decides consent (ADR 0012): consent (the consent service; the router publishes keyword
   * replies as ConsentKeywordReceived) or router (the router's own decisions, without the
   * consent service).
   */
  ROUTER_CONSENT_DECIDER: z.enum(["consent", "router"]).default("consent"),
  /**
   * Authentication templates are sent to a contact who opted out of everything (STOP), as
   * Meta's policy allows for a code the person asked for (ADR 0012). Set the same value for the
   * sender, whose gate applies it too. Default off: a STOP stops them.
   */
  PARLEY_AUTHENTICATION_EXEMPT: env.bool(false),
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
  /**
   * Contacts whose state is kept in memory between webhooks (least recently used go), and whose
   * stored lists the store remembers so a save sends only what changed (ADR 0010); 0: none.
   */
  ROUTER_STATE_CACHE_SIZE: env.int(1_000, { min: 0, max: 1_000_000 }),
  /** Raw webhooks taken but not finished before the consumer stops fetching. */
  ROUTER_MAX_IN_FLIGHT: env.int(200, { min: 1, max: 10_000 }),
  /**
   * The statuses lane (raw-status-webhooks, ADR 0004 "Two raw lanes"): receipts taken at once,
   * kept small so that a round of them holds the event loop briefly.
   */
  ROUTER_STATUS_MAX_IN_FLIGHT: env.int(50, { min: 1, max: 10_000 }),
  /** Longest a receipt waits for messages and sends to go quiet before it is decided anyway. */
  ROUTER_STATUS_MAX_WAIT_MS: env.int(200, { min: 0, max: 60_000 }),
  /**
   * Receipts go at once, even with messages or sends in flight, while the event loop was busy
   * less than this share (percent) of the time they waited: that work waits on I/O, not CPU.
   */
  ROUTER_STATUS_SPARE_BELOW_PERCENT: env.int(50, { min: 0, max: 100 }),
  /**
   * Both sides: the marks that record an outbox as published are written behind the inputs, the
   * batches of this many ms in one write (a contact decided again meanwhile costs one mark), and
   * on stopping (ADR 0010, "Deferred marks"); -1: each batch waits for its own mark (one more
   * MongoDB round trip per batch), the default. A crash republishes up to this long of outboxes
   * (same ids). Behind stays opt-in: a chaos run saw the router stop progressing after a MongoDB
   * restart with marks 1,000 ms behind, and recover with them awaited (issue 26), not explained yet.
   */
  ROUTER_MARK_DELAY_MS: env.int(-1, { min: -1, max: 10_000 }),
  /**
   * The most work one webhook may ask for, counted before any fact is built; past it the webhook
   * is dead-lettered with the limit named. Meta batches up to 1,000 updates in a POST.
   */
  ROUTER_WEBHOOK_MAX_ENTRIES: env.int(2_000, { min: 1, max: 1_000_000 }),
  ROUTER_WEBHOOK_MAX_CHANGES: env.int(2_000, { min: 1, max: 1_000_000 }),
  /** Messages, statuses, contacts, errors and preferences (and the lists inside messages). */
  ROUTER_WEBHOOK_MAX_ITEMS: env.int(4_000, { min: 1, max: 1_000_000 }),
  /** JSON values in one body, counted before it is parsed (bounds unknown payloads too). */
  ROUTER_WEBHOOK_MAX_VALUES: env.int(60_000, { min: 1, max: 10_000_000 }),

  // Outbound side: on when a business-number directory is configured (PARLEY_NUMBERS_FILE or
  // PARLEY_NUMBERS); without one the router runs its inbound side only and says so.
  ...numbersFields,
  /** Graph's address for template lists (the simulator's in tests and the local demo). */
  WA_GRAPH_BASE_URL: env.url().default("https://graph.facebook.com"),
  WA_GRAPH_VERSION: z
    .string()
    .regex(/^v\d+\.\d+$/, 'must look like "v23.0"')
    .default("v23.0"),
  /** Marketing messages allowed per contact in any ROUTER_MARKETING_PERIOD_MS; 0: no cap. */
  ROUTER_MARKETING_CAP_COUNT: env.int(2, { min: 0, max: 1_000 }),
  ROUTER_MARKETING_PERIOD_MS: env.int(DAY_MS, { min: 60_000 }),
  /** How long a request id and idempotency key are remembered per contact. */
  ROUTER_IDEMPOTENCY_TTL_MS: env.int(7 * DAY_MS, { min: 60_000 }),
  /** Decided requests remembered per contact (the oldest are forgotten first). */
  ROUTER_IDEMPOTENCY_MAX_KEYS: env.int(1_000, { min: 1, max: 100_000 }),
  /** Every WABA's template catalog is synced from Graph this often; 0: only on events and misses. */
  ROUTER_TEMPLATE_REFRESH_MS: env.int(15 * MINUTE_MS, { min: 0 }),
  /** A catalog held in memory is trusted this long before MongoDB is read again. */
  ROUTER_TEMPLATE_CACHE_MS: env.int(5_000, { min: 0, max: HOUR_MS }),
  /** A template missing or not approved in a catalog older than this triggers one sync first. */
  ROUTER_TEMPLATE_RESYNC_MS: env.int(MINUTE_MS, { min: 1_000 }),
  /**
   * Contacts whose outbound state is kept in memory between records (least recently used go),
   * and whose stored lists the store remembers so a save sends only what changed; 0: none.
   */
  ROUTER_OUTBOUND_CACHE_SIZE: env.int(10_000, { min: 0, max: 1_000_000 }),
  /** Send requests, consent and window events taken but not finished before fetching stops. */
  ROUTER_SEND_MAX_IN_FLIGHT: env.int(500, { min: 1, max: 10_000 }),
});

export type Config = z.infer<typeof configSchema>;
