import {
  apiAccessFields,
  apiKeyEntry,
  apiKeyList,
  chassisFields,
  checkApiAccess,
  env,
  infraFields,
} from "@parley/config";
import { z } from "zod";

/** What a query API key may do: `read` every route; `pii` also see phone numbers unmasked. */
export const scopes = ["read", "pii"] as const;
export type Scope = (typeof scopes)[number];

const apiKeyEntryOf = apiKeyEntry(scopes, {});
export type ApiKeyEntry = z.infer<typeof apiKeyEntryOf>;

/** Every variable projection reads, with its type and default (README.md, "Configuration"). */
export const configFields = z.object({
  ...infraFields,
  ...chassisFields,
  HTTP_PORT: env.port(8086),
  /**
   * The projection's own bound on heap growth past the last full collection (the chassis
   * default is 50): working off a backlog it peaked at 208-227 MB RSS with 50, 189 with 20
   * (docs/benchmarks.md, "Projection", 2026-12-06 18:36-19:55), its live heap being small and
   * its garbage plentiful; the CPU cost of the extra full collections is within the noise there.
   */
  HEAP_GROWING_PERCENT: env.int(20, { min: 0, max: 1_000 }),
  /**
   * The read side yields CPU to the send path on a busy shared host (the chassis default is 0):
   * at 500 sends/s end to end on two cores, the projector at 0 took its share while the sends
   * waited (docs/benchmarks.md, "Outbound path end to end", 2026-12-07 evening). It works off
   * what waited once the host has CPU to spare; its lag is on the consumer-lag dashboard. A
   * `PROJECTION_ROLE=api` process that must answer fast on such a host can set 0.
   */
  CPU_NICE: env.int(10, { min: 0, max: 19 }),
  /** Prepended to every topic name (tests); production leaves it empty. */
  PARLEY_TOPIC_PREFIX: z.string().default(""),
  /**
   * `all`: keep the active generation current and serve the query API; `projector`: keep it
   * current only; `api`: serve only (scale readers apart from the projector, which is CPU-bound
   * while it works off a backlog: docs/benchmarks.md, "Projection").
   */
  PROJECTION_ROLE: z.enum(["all", "projector", "api"]).default("all"),
  /**
   * The query API's keys as JSON, `[{ id, keySha256, scopes | role, expiresAt? }]` with scopes `read`
   * and `pii`
   * (hashes only; from a file with PROJECTION_API_KEYS_FILE). No key: the query API is off.
   */
  PROJECTION_API_KEYS: apiKeyList(apiKeyEntryOf),
  ...apiAccessFields,
  /** The query API listener; HTTP_HOST when unset. */
  PROJECTION_API_HOST: env.string().optional(),
  PROJECTION_API_PORT: env.port(8091),
  /** Requests per second per API key id; 0 turns the limit off. */
  PROJECTION_API_RATE_PER_SECOND: env.int(500, { min: 0 }),
  PROJECTION_API_RATE_BURST: env.int(1_000, { min: 1 }),
  /** Read models live in `<prefix>g<generation>_<model>` collections of MONGO_DB. */
  PROJECTION_COLLECTION_PREFIX: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]{0,40}$/, "letters, digits and '_' (a collection name prefix)")
    .default("projection_"),
  /** Records taken but unfinished before the consumer stops fetching. */
  PROJECTION_MAX_IN_FLIGHT: env.int(500, { min: 1, max: 50_000 }),
  /**
   * Documents per read model kept in memory between events. 500: every cached document is
   * promoted to the old generation and replaced by its next version, so the cache sets much of
   * the heap's size; working off 60,000 events the service peaked at 208-216 MB RSS with 2,000,
   * 194-197 with 1,000, 187 with 500, at the same CPU per event (docs/benchmarks.md,
   * "Projection: memory and rest"). At 500 msg/s 500 requests are a second of traffic: a
   * request's dispatch and outcome still find it cached; its statuses come later in any case.
   */
  PROJECTION_CACHE_SIZE: env.int(500, { min: 0, max: 1_000_000 }),
  /** Keys per batch of a read model (one load, one save per batch). */
  PROJECTION_BATCH_KEYS: env.int(500, { min: 1, max: 10_000 }),
  /**
   * Records at most in one apply of the projector: the records of a fetch are applied together
   * (erasure's lookups and one batch per read model once per apply); 1 applies each on its own.
   */
  PROJECTION_APPLY_BATCH: env.int(500, { min: 1, max: 10_000 }),
  /**
   * The read models' published marks written behind, this many milliseconds of them together
   * (one per key however often it was saved meanwhile; 0: at once, behind); -1, the default:
   * each batch waits for its own marks. Behind stays opt-in: a chaos run saw the projection stop
   * progressing after a MongoDB restart with marks behind (issue 26), not yet explained.
   * The conversations read model writes none (it hands its windows on before it saves).
   */
  PROJECTION_MARK_DELAY_MS: env.int(-1, { min: -1, max: 60_000 }),
  /**
   * true, the default: the requests' and messages' outboxes are marked published by the key's
   * next save (which replaces the outbox), not by a write of their own; a key loaded again
   * from the store hands its last message links and bucket marks on again (both idempotent).
   * PROJECTION_MARK_DELAY_MS is then ignored. false: a mark per saved outbox, as it configures.
   */
  PROJECTION_MARK_ON_NEXT_SAVE: env.bool(true),
  /** How often the analytics buckets whose facts changed are recomputed. */
  PROJECTION_ROLLUP_INTERVAL_MS: env.int(1_000, { min: 50, max: 3_600_000 }),
  /**
   * A bucket recomputed from n facts waits n x this (ms) before its next recomputation, so a
   * busy bucket of many facts is not read again every round (its totals trail by that much: an
   * hour of 4,000 messages by 8 s). 0.5 read back 6 facts per event applied in the backlog
   * bench, 2 reads 2.7 (docs/benchmarks.md, "Projection").
   */
  PROJECTION_ROLLUP_MS_PER_FACT: z.coerce.number().min(0).max(1_000).default(2),
  /** How often the active generation is read (a rebuild's switch is picked up within this). */
  PROJECTION_GENERATION_POLL_MS: env.int(2_000, { min: 100, max: 60_000 }),
  /**
   * The operator's rate card (docs/projection-api.md, "Cost estimates"): per market and pricing
   * category, in the operator's currency. Unset: analytics carry no cost estimate.
   */
  PARLEY_RATE_CARD_FILE: z.string().min(1).optional(),
  /** A rebuild switches once it is within this many records of the log's end. */
  PROJECTION_REBUILD_CATCH_UP_RECORDS: env.int(1_000, { min: 0 }),
});

/** The service's configuration: the fields and the API access rules across them. */
export const configSchema = configFields.superRefine(checkApiAccess);

export type Config = z.infer<typeof configSchema>;
