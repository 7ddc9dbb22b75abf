import {
  apiAccessFields,
  apiKeyEntry,
  apiKeyList,
  chassisFields,
  checkApiAccess,
  env,
  infraFields,
  jsonField,
} from "@parley/config";
import { numbersFields } from "@parley/numbers";
import { z } from "zod";

/** What a media API key may do (docs/media-api.md). */
export const scopes = ["read", "write", "delete", "erase", "send"] as const;
export type Scope = (typeof scopes)[number];

const apiKeyEntryOf = apiKeyEntry(scopes, {});
export type ApiKeyEntry = z.infer<typeof apiKeyEntryOf>;

const days = z.number().int().min(0).max(36_500);

/** Every variable media reads, with its type and default (README.md, "Configuration"). */
export const configSchema = z
  .object({
    ...infraFields,
    ...chassisFields,
    ...numbersFields,
    HTTP_PORT: env.port(8084),
    /** Prepended to every topic name (tests); production leaves it empty. */
    PARLEY_TOPIC_PREFIX: z.string().default(""),
    WA_GRAPH_BASE_URL: env.url().default("https://graph.facebook.com"),
    WA_GRAPH_VERSION: z
      .string()
      .regex(/^v\d+\.\d+$/, 'must look like "v23.0"')
      .default("v23.0"),
    /** Hosts the number's token may be sent to for downloads (Graph's own host always). */
    MEDIA_GRAPH_MEDIA_HOSTS: env.list().default(["lookaside.fbsbx.com"]),
    MEDIA_GRAPH_TIMEOUT_MS: env.int(30_000, { min: 100, max: 600_000 }),
    /**
     * Key-encryption keys, `id:base64(32 bytes),...`, the newest last (it wraps every new
     * object's data key; the others still unwrap older objects). From a file: MEDIA_KEYS_FILE.
     */
    MEDIA_KEYS: z.string().min(1, "at least one key: id:base64key"),
    /** `filesystem` (the default: MEDIA_STORE_DIR) or `s3` (MEDIA_S3_*). */
    MEDIA_STORE: z.enum(["filesystem", "s3"]).default("filesystem"),
    MEDIA_STORE_DIR: env.string().default(".parley/media"),
    MEDIA_S3_ENDPOINT: env.url().optional(),
    MEDIA_S3_BUCKET: env.string().default("parley-media"),
    MEDIA_S3_REGION: env.string().default("us-east-1"),
    MEDIA_S3_PREFIX: z.string().default(""),
    MEDIA_S3_ACCESS_KEY_ID: env.string().optional(),
    MEDIA_S3_SECRET_ACCESS_KEY: env.secret().optional(),
    /** Largest inbound file (Meta caps inbound media at 100 MB) and largest upload. */
    MEDIA_MAX_BYTES: env.int(100 * 1024 * 1024, { min: 1 }),
    /** Tries per download for 5xx and network failures before the record is retried by the runner. */
    MEDIA_DOWNLOAD_ATTEMPTS: env.int(5, { min: 1, max: 50 }),
    MEDIA_DOWNLOAD_BACKOFF_MS: env.int(500, { min: 1, max: 60_000 }),
    /** Downloads at once (records of other contacts); each streams with one chunk in memory. */
    MEDIA_MAX_IN_FLIGHT: env.int(16, { min: 1, max: 1_000 }),
    /** Days stored media is kept (0: forever), per kind and per business number (JSON objects). */
    MEDIA_RETENTION_DAYS: env.int(90, { min: 0, max: 36_500 }),
    MEDIA_RETENTION_BY_KIND: jsonField(
      z.strictObject({
        image: days.optional(),
        video: days.optional(),
        audio: days.optional(),
        document: days.optional(),
        sticker: days.optional(),
        upload: days.optional(),
      }),
      {},
    ),
    MEDIA_RETENTION_BY_NUMBER: jsonField(z.record(z.string().regex(/^\d{1,32}$/), days), {}),
    /** How often the retention sweeper runs (0: never). */
    MEDIA_SWEEP_INTERVAL_MS: env.int(60_000, { min: 0 }),
    /**
     * The media API's keys as JSON, `[{ id, keySha256, scopes | role, expiresAt? }]` with scopes
     * read, write, delete, erase and send (hashes only; MEDIA_API_KEYS_FILE). No key: the API is off.
     */
    MEDIA_API_KEYS: apiKeyList(apiKeyEntryOf),
    ...apiAccessFields,
    MEDIA_API_HOST: env.string().optional(),
    MEDIA_API_PORT: env.port(8093),
  })
  .superRefine((c, ctx) => {
    checkApiAccess(c, ctx);
    if (c.MEDIA_STORE !== "s3") return;
    for (const name of [
      "MEDIA_S3_ENDPOINT",
      "MEDIA_S3_ACCESS_KEY_ID",
      "MEDIA_S3_SECRET_ACCESS_KEY",
    ] as const) {
      if (c[name] === undefined)
        ctx.addIssue({ code: "custom", path: [name], message: "required with MEDIA_STORE=s3" });
    }
  });

export type Config = z.infer<typeof configSchema>;
