import {
  apiAccessFields,
  apiKeyEntry as apiKeyEntryOf,
  chassisFields,
  checkApiAccess,
  env,
  infraFields,
} from "@parley/config";
import { z } from "zod";
import { isIP } from "node:net";

/** `false`, `true`, a hop count, or addresses/ranges of trusted proxies (Express's "trust proxy"). */
const trustProxy = z
  .string()
  .default("false")
  .transform((v): boolean | number | string => {
    const t = v.trim();
    if (t === "false") return false;
    if (t === "true") return true;
    if (/^\d+$/.test(t)) return Number(t);
    return t;
  });

const cidrList = z
  .string()
  .default("")
  .transform((v, ctx): Cidr[] => {
    const ranges: Cidr[] = [];
    for (const text of v
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0)) {
      try {
        ranges.push(parseCidr(text));
      } catch (error) {
        ctx.addIssue({
          code: "custom",
          message: error instanceof Error ? error.message : String(error),
        });
      }
    }
    return ranges;
  });

/** What a send API key may do; each route names the one it needs. */
export const scopes = ["messages:send", "messages:read"] as const;
export type Scope = (typeof scopes)[number];

const apiKeyEntry = apiKeyEntryOf(scopes, { requester: z.string().min(1).max(128) });
export type ApiKeyEntry = z.infer<typeof apiKeyEntry>;

/**
 * The send API's keys as JSON (`[{ id, keySha256, scopes | role, requester, expiresAt? }]`,
 * hashes only). Several
 * entries may share an `id` (a key being rotated, or keys with different scopes) only if they
 * name the same requester, and a requester belongs to one id: idempotency keys are scoped per
 * id in ingress and per requester in the router, so the two scopes must coincide. A hash may
 * appear once. Every problem is reported with the rest of the configuration (exit 78).
 */
const apiKeyList = z
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
    const requesterOf = new Map<string, string>();
    const idOf = new Map<string, string>();
    const hashes = new Set<string>();
    for (const [index, entry] of parsed.data.entries()) {
      const hash = entry.keySha256.toLowerCase();
      if (hashes.has(hash))
        ctx.addIssue({ code: "custom", message: `[${index}]: the same key hash appears twice` });
      hashes.add(hash);
      const requester = requesterOf.get(entry.id);
      if (requester !== undefined && requester !== entry.requester) {
        ctx.addIssue({
          code: "custom",
          message: `[${index}]: id "${entry.id}" is listed with requesters "${requester}" and "${entry.requester}"; entries sharing an id (a rotation) must name the same requester`,
        });
      }
      const owner = idOf.get(entry.requester);
      if (owner !== undefined && owner !== entry.id) {
        ctx.addIssue({
          code: "custom",
          message: `[${index}]: requester "${entry.requester}" already belongs to id "${owner}"; the router dedupes idempotency keys per requester, so one requester is one id (give a rotated key the same id)`,
        });
      }
      requesterOf.set(entry.id, entry.requester);
      idOf.set(entry.requester, entry.id);
    }
    return parsed.data;
  });

/**
 * The HTTP send API's variables, spread into ingress's config schema. The API is off unless
 * SEND_API_KEYS (or the file SEND_API_KEYS_FILE names) lists at least one key (docs/send-api.md).
 */
export const sendApiFields = {
  /**
   * The API keys as JSON, `[{ id, keySha256, scopes, requester }]` (hashes only, never the keys
   * themselves); from a file with SEND_API_KEYS_FILE, like every variable. No key: the API is off.
   */
  SEND_API_KEYS: apiKeyList,
  /** The send API listener; HTTP_HOST when unset. */
  SEND_API_HOST: env.string().optional(),
  SEND_API_PORT: env.port(8090),
  /** Larger request bodies get 413. */
  SEND_API_BODY_LIMIT_BYTES: env.int(256 * 1024, { min: 1024, max: 8 * 1024 * 1024 }),
  /** Past this the publish counts as failed and the caller gets 503 (retry with the same key). */
  SEND_API_PUBLISH_TIMEOUT_MS: env.int(5_000, { min: 100, max: 60_000 }),
  /** Requests per second per API key; 0 turns the limit off. */
  SEND_API_RATE_PER_SECOND: env.int(200, { min: 0 }),
  SEND_API_RATE_BURST: env.int(400, { min: 1 }),
  /** Where idempotency keys and their request ids are kept (in MONGO_DB). */
  SEND_API_COLLECTION: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,100}$/, "a MongoDB collection name")
    .default("ingress_send_requests"),
  /**
   * How long an idempotency key is honoured (from its acceptance); after it the key may name a
   * new request. Keep it at least ROUTER_IDEMPOTENCY_TTL_MS (the router's own dedupe).
   */
  SEND_API_IDEMPOTENCY_TTL_MS: env.int(7 * 24 * 60 * 60 * 1000, { min: 60_000 }),
  /**
   * The projection's query API (ADR 0011): with PROJECTION_API_KEY, `GET /v1/messages/{requestId}`
   * adds the request's final word and its status timeline. Unset: the GET shows ingress's record.
   */
  PROJECTION_API_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** A query API key with the scopes read and pii (the caller made the request); never logged. */
  PROJECTION_API_KEY: env.secret().optional(),
  /** Past this the GET answers 503 (retry). */
  PROJECTION_API_TIMEOUT_MS: env.int(2_000, { min: 50, max: 30_000 }),
};

/** Every variable ingress reads, with its type and default (README.md, "Configuration"). */
export const configSchema = z
  .object({
    ...infraFields,
    ...chassisFields,
    HTTP_PORT: env.port(8080),
    /** Prepended to every topic name (tests); production leaves it empty. */
    PARLEY_TOPIC_PREFIX: z.string().default(""),
    /** The public webhook listener; HTTP_HOST when unset. */
    WEBHOOK_HOST: env.string().optional(),
    WEBHOOK_PORT: env.port(8088),
    /** Meta sends up to 3 MB; larger bodies get 413. */
    WEBHOOK_BODY_LIMIT_BYTES: env.int(3 * 1024 * 1024, { min: 1024, max: 64 * 1024 * 1024 }),
    /** Per client address; 0 turns the limit off. Meta delivers from few addresses: keep it generous. */
    WEBHOOK_RATE_PER_SECOND: env.int(2_000, { min: 0 }),
    WEBHOOK_RATE_BURST: env.int(4_000, { min: 1 }),
    /** Comma-separated IPv4/IPv6 ranges allowed to post; empty allows all. */
    WEBHOOK_ALLOWED_CIDRS: cidrList,
    WEBHOOK_TRUST_PROXY: trustProxy,
    /** Past this the append counts as failed and Meta gets 503 (it retries). */
    WEBHOOK_APPEND_TIMEOUT_MS: env.int(5_000, { min: 100, max: 60_000 }),
    /** Produce requests to the raw topic in flight at once (one producer each); see ADR 0004. */
    WEBHOOK_APPEND_PRODUCERS: env.int(4, { min: 1, max: 32 }),
    /**
     * Receipts-only webhooks (statuses, none failed) go to raw-status-webhooks, which the router
     * serves after messages and sends (ADR 0004, "Two raw lanes"). Turn off only while a router
     * older than the lane still runs: it reads raw-webhooks alone.
     */
    WEBHOOK_STATUS_LANE: env.bool(true),
    /** The hub.verify_token of the subscription handshake; with WA_APP_SECRET, turns the webhook on. */
    WA_VERIFY_TOKEN: env.secret().optional(),
    /** The Meta app secret that signs webhooks (X-Hub-Signature-256). */
    WA_APP_SECRET: env.secret().optional(),
    /** The previous app secret, still accepted while a rotation is under way. */
    WA_APP_SECRET_PREVIOUS: env.secret().optional(),
    WA_GRAPH_VERSION: z
      .string()
      .regex(/^v\d+\.\d+$/, 'must look like "v23.0"')
      .default("v23.0"),
    /** The authenticated HTTP send API (docs/send-api.md); off unless API keys are configured. */
    ...sendApiFields,
    ...apiAccessFields,
  })
  .superRefine((c, ctx) => {
    checkApiAccess(c, ctx);
    // Both or neither: without them ingress runs its chassis only (no webhook listener).
    if ((c.WA_VERIFY_TOKEN === undefined) !== (c.WA_APP_SECRET === undefined)) {
      const missing = c.WA_APP_SECRET === undefined ? "WA_APP_SECRET" : "WA_VERIFY_TOKEN";
      ctx.addIssue({
        code: "custom",
        path: [missing],
        message: "the webhook needs both WA_VERIFY_TOKEN and WA_APP_SECRET",
      });
    }
    if ((c.PROJECTION_API_URL === undefined) !== (c.PROJECTION_API_KEY === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [c.PROJECTION_API_URL === undefined ? "PROJECTION_API_URL" : "PROJECTION_API_KEY"],
        message: "the send API's outcomes need both PROJECTION_API_URL and PROJECTION_API_KEY",
      });
    }
    if (c.WA_APP_SECRET_PREVIOUS !== undefined && c.WA_APP_SECRET === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["WA_APP_SECRET"],
        message: "WA_APP_SECRET_PREVIOUS is set, so the current WA_APP_SECRET is needed too",
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

export interface Cidr {
  readonly network: string;
  readonly prefix: number;
  readonly family: "ipv4" | "ipv6";
}

/** Parses `10.0.0.0/8`, `2a03:2880::/32` or a bare address (a /32 or /128); throws with the reason. */
export function parseCidr(text: string): Cidr {
  const [network = "", prefixText, extra] = text.trim().split("/");
  if (extra !== undefined) throw new RangeError(`"${text}" is not a CIDR range`);
  const version = isIP(network);
  if (version === 0) throw new RangeError(`"${text}" does not start with an IPv4 or IPv6 address`);
  const family = version === 4 ? "ipv4" : "ipv6";
  const max = version === 4 ? 32 : 128;
  if (prefixText === undefined) return { network, prefix: max, family };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    throw new RangeError(`"${text}": the prefix length must be 0 to ${max}`);
  }
  return { network, prefix: Number(prefixText), family };
}
