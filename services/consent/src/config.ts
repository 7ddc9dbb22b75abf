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
import { z } from "zod";

/**
 * What a consent API key may do: `read` current state and history, `evidence` also see the
 * decrypted evidence, `write` record opt-ins and opt-outs (and import), `export` audit exports,
 * `erase` erasure requests.
 */
export const scopes = ["read", "evidence", "write", "export", "erase"] as const;
export type Scope = (typeof scopes)[number];

const apiKeyEntryOf = apiKeyEntry(scopes, {});
export type ApiKeyEntry = z.infer<typeof apiKeyEntryOf>;
/** The API key list's schema, for a key file re-read on change (CONSENT_API_KEYS_PATH). */
export const consentApiKeyList = apiKeyList(apiKeyEntryOf);

const masterKey = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' or '-'"),
  /** 32 bytes, base64. */
  key: z
    .string()
    .refine(
      (k) => Buffer.from(k, "base64").length === 32,
      "32 bytes in base64 (openssl rand -base64 32)",
    ),
});
export type MasterKeyEntry = z.infer<typeof masterKey>;

/** Every variable consent reads, with its type and default (README.md, "Configuration"). */
export const configSchema = z
  .object({
    ...infraFields,
    ...chassisFields,
    HTTP_PORT: env.port(8085),
    /** Prepended to every topic name (tests); production leaves it empty. */
    PARLEY_TOPIC_PREFIX: z.string().default(""),
    /**
     * The consent API's keys as JSON (`[{ id, keySha256, scopes | role, expiresAt? }]`, hashes only; from a file with
     * CONSENT_API_KEYS_FILE). No key: the API is off (the consumer still runs).
     */
    CONSENT_API_KEYS: apiKeyList(apiKeyEntryOf),
    /**
     * Instead of CONSENT_API_KEYS: a key file (same JSON) read at start and re-read when it
     * changes on disk (polled every 5 s), so a rotation needs no restart; each change is
     * recorded as AuditRecorded keys.changed (docs/access-control.md).
     */
    CONSENT_API_KEYS_PATH: env.string().optional(),
    ...apiAccessFields,
    /** The consent API listener; HTTP_HOST when unset. */
    CONSENT_API_HOST: env.string().optional(),
    CONSENT_API_PORT: env.port(8092),
    /**
     * Master keys that wrap the per-contact data keys, as JSON `[{ id, key }]` (key: 32 bytes
     * base64); the first wraps new keys, the others still unwrap (rotation). None: no evidence is
     * kept (opt-outs are recorded without it, API inputs with evidence are refused): set it.
     */
    CONSENT_MASTER_KEYS: jsonField(z.array(masterKey), []),
    /** Largest request body of the API (an import streams and is not bound by it). */
    CONSENT_API_MAX_BODY_BYTES: env.int(65_536, { min: 1_024 }),
    /** Records taken but unfinished before the consumer stops fetching. */
    CONSENT_MAX_IN_FLIGHT: env.int(256, { min: 1 }),
    /**
     * Import batches (500 rows each) decided at once: 2 overlaps one batch's round trips with the
     * next (faster on a slow store), at the cost of a second batch of ledgers in memory.
     */
    CONSENT_IMPORT_BATCHES_IN_FLIGHT: env.int(1, { min: 1, max: 8 }),
    /**
     * The API and import lane writes its published marks together every this many ms, behind
     * the callers (one round trip less per import batch); 0 marks each batch before it answers.
     */
    CONSENT_IMPORT_MARK_DELAY_MS: env.int(50, { min: 0, max: 5_000 }),
    /** Contacts whose ledger stays in memory between inputs. */
    CONSENT_CACHE_SIZE: env.int(1_000, { min: 0 }),
  })
  .superRefine(checkApiAccess);

export type Config = z.infer<typeof configSchema>;
