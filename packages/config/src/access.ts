import { z } from "zod";
import { env } from "./fields.js";

/**
 * The roles an API caller may hold, least privilege first (docs/access-control.md): each maps to
 * a set of scopes in @parley/runtime (`roleScopes`), and every route declares the scope it needs.
 */
export const roles = ["viewer", "sender", "operator", "auditor", "admin"] as const;
export type Role = (typeof roles)[number];

/** A JSON value of `schema`; every problem is reported against the variable with its path. */
export const jsonField = <T extends z.ZodType>(schema: T, fallback: z.infer<T>) =>
  z
    .string()
    .optional()
    .transform((text, ctx): z.infer<T> => {
      if (text === undefined || text.trim() === "") return fallback;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        ctx.addIssue({
          code: "custom",
          message: `not JSON (${error instanceof Error ? error.message : String(error)})`,
        });
        return fallback;
      }
      const parsed = schema.safeParse(value);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({
            code: "custom",
            message: `${issue.path.map((p) => `[${String(p)}]`).join("")}: ${issue.message}`,
          });
        }
        return fallback;
      }
      return parsed.data;
    });

/**
 * One API key as the key files list it (hashes only, never the key): `scopes` (the API's own
 * names) or a `role` (or both: the union), and an optional `expiresAt` after which the key is
 * refused. Several entries may be valid at once, so a rotation overlaps: add the new key, move
 * the callers, then remove (or let expire) the old one.
 */
export const apiKeyEntry = <
  const S extends readonly [string, ...string[]],
  const X extends z.ZodRawShape,
>(
  scopes: S,
  /** What the service adds to each entry (the send API's `requester`); `{}` for none. */
  extra: X,
) =>
  z
    .strictObject({
      ...extra,
      id: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' or '-', 1 to 64"),
      keySha256: z
        .string()
        .regex(/^[0-9a-fA-F]{64}$/, 'the hex SHA-256 of the key (printf %s "$KEY" | sha256sum)'),
      scopes: z.array(z.enum(scopes)).min(1).optional(),
      role: z.enum(roles).optional(),
      /** ISO 8601; the key is refused from this instant (401 naming the expiry). */
      expiresAt: z.iso.datetime({ offset: true }).optional(),
    })
    .refine(
      (e) =>
        (e as { scopes?: unknown }).scopes !== undefined ||
        (e as { role?: unknown }).role !== undefined,
      {
        message: "give the key a role or scopes",
      },
    );

/** A list of API keys as JSON, each key hash at most once (a rotation adds a new hash). */
export const apiKeyList = <T extends { readonly keySha256: string }>(entry: z.ZodType<T>) =>
  jsonField(
    z.array(entry).superRefine((entries, ctx) => {
      const hashes = new Set<string>();
      for (const [index, e] of entries.entries()) {
        const hash = e.keySha256.toLowerCase();
        if (hashes.has(hash))
          ctx.addIssue({
            code: "custom",
            path: [index],
            message: "the same key hash appears twice",
          });
        hashes.add(hash);
      }
    }),
    [] as T[],
  );

const unsafeAlgorithms = /^(none|HS\d+)$/i;

/**
 * What every authenticated HTTP API shares (docs/access-control.md): bearer JWTs from an OAuth 2.1
 * authorization server beside the API keys, and native TLS on every listener of the service.
 */
export const apiAccessFields = {
  /** With API_JWT_AUDIENCE and a JWKS: bearer JWTs (client credentials) are accepted. */
  API_JWT_ISSUER: env.string().optional(),
  API_JWT_AUDIENCE: env.string().optional(),
  /** The authorization server's JWKS endpoint (fetched and cached, refetched for an unknown kid). */
  API_JWT_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Or the JWKS itself as JSON (API_JWT_JWKS_FILE for a mounted file). */
  API_JWT_JWKS: env.string().optional(),
  /** Accepted signature algorithms; asymmetric only (none and HS* are refused here). */
  API_JWT_ALGORITHMS: env
    .list()
    .default(["RS256", "PS256", "ES256", "EdDSA"])
    .refine((algs) => !algs.some((a) => unsafeAlgorithms.test(a)), {
      message: "asymmetric algorithms only: none and HS* would let a public key sign tokens",
    }),
  /** Clock skew tolerated on exp and nbf. */
  API_JWT_CLOCK_TOLERANCE_S: env.int(30, { min: 0, max: 300 }),
};

/** Cross-field rules of `apiAccessFields`, for a service schema's superRefine. */
export function checkApiAccess(
  c: {
    readonly API_JWT_ISSUER?: string | undefined;
    readonly API_JWT_AUDIENCE?: string | undefined;
    readonly API_JWT_JWKS_URL?: string | undefined;
    readonly API_JWT_JWKS?: string | undefined;
    readonly HTTP_TLS_CERT_PATH?: string | undefined;
    readonly HTTP_TLS_KEY_PATH?: string | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  const jwt = [c.API_JWT_ISSUER, c.API_JWT_AUDIENCE, c.API_JWT_JWKS_URL ?? c.API_JWT_JWKS];
  if (jwt.some((v) => v !== undefined) && jwt.some((v) => v === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: ["API_JWT_ISSUER"],
      message:
        "bearer JWTs need API_JWT_ISSUER, API_JWT_AUDIENCE and API_JWT_JWKS_URL (or API_JWT_JWKS) together",
    });
  }
  if (c.API_JWT_JWKS_URL !== undefined && c.API_JWT_JWKS !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["API_JWT_JWKS"],
      message: "set API_JWT_JWKS_URL or API_JWT_JWKS, not both",
    });
  }
  if ((c.HTTP_TLS_CERT_PATH === undefined) !== (c.HTTP_TLS_KEY_PATH === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: [c.HTTP_TLS_CERT_PATH === undefined ? "HTTP_TLS_CERT_PATH" : "HTTP_TLS_KEY_PATH"],
      message: "native TLS needs both HTTP_TLS_CERT_PATH and HTTP_TLS_KEY_PATH",
    });
  }
}
