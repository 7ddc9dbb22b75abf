import { env } from "@parley/config";
import { z } from "zod";

/**
 * The HTTP send API's variables, spread into ingress's config schema. The API is off unless
 * SEND_API_KEYS_FILE or SEND_API_KEYS names at least one key (docs/send-api.md).
 */
export const sendApiFields = {
  /** Path to a JSON array of API keys: `[{ id, keySha256, scopes, requester }]`. */
  SEND_API_KEYS_FILE: env.string().optional(),
  /** The same JSON inline (handy in tests and compose); only hashes, never the keys themselves. */
  SEND_API_KEYS: env.string().optional(),
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
};

/** The subset of the ingress config the send API reads. */
export interface SendApiConfig {
  readonly SEND_API_KEYS_FILE?: string | undefined;
  readonly SEND_API_KEYS?: string | undefined;
  readonly SEND_API_HOST?: string | undefined;
  readonly SEND_API_PORT: number;
  readonly SEND_API_BODY_LIMIT_BYTES: number;
  readonly SEND_API_PUBLISH_TIMEOUT_MS: number;
  readonly SEND_API_RATE_PER_SECOND: number;
  readonly SEND_API_RATE_BURST: number;
  readonly SEND_API_COLLECTION: string;
  readonly SEND_API_IDEMPOTENCY_TTL_MS: number;
}
