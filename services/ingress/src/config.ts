import { chassisFields, env, infraFields } from "@parley/config";
import { z } from "zod";
import { parseCidr } from "./adapters/http/allow-list.js";
import { sendApiFields } from "./send-api/config.js";

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
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  )
  .superRefine((ranges, ctx) => {
    for (const range of ranges) {
      try {
        parseCidr(range);
      } catch (error) {
        ctx.addIssue({
          code: "custom",
          message: error instanceof Error ? error.message : String(error),
        });
      }
    }
  });

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
  })
  .superRefine((c, ctx) => {
    // Both or neither: without them ingress runs its chassis only (no webhook listener).
    if ((c.WA_VERIFY_TOKEN === undefined) !== (c.WA_APP_SECRET === undefined)) {
      const missing = c.WA_APP_SECRET === undefined ? "WA_APP_SECRET" : "WA_VERIFY_TOKEN";
      ctx.addIssue({
        code: "custom",
        path: [missing],
        message: "the webhook needs both WA_VERIFY_TOKEN and WA_APP_SECRET",
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
