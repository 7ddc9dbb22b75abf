import { createHash, timingSafeEqual } from "node:crypto";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from "jose";

export const roleNames = ["viewer", "sender", "operator", "auditor", "admin"] as const;
export type RoleName = (typeof roleNames)[number];

/**
 * Every scope of every API, qualified by the API (`<api>:<scope>`). Routes declare one of these
 * in their OpenAPI document (`x-parley-scope`) and the chassis enforces it.
 */
export const allScopes = [
  "messages:send",
  "messages:read",
  "query:read",
  "query:pii",
  "consent:read",
  "consent:evidence",
  "consent:write",
  "consent:export",
  "consent:erase",
  "media:read",
  "media:write",
  "media:send",
  "media:delete",
  "media:erase",
  "campaigns:read",
  "campaigns:write",
  "campaigns:control",
  "audit:read",
] as const;
export type ScopeName = (typeof allScopes)[number];

const viewer: readonly ScopeName[] = [
  "messages:read",
  "query:read",
  "consent:read",
  "media:read",
  "campaigns:read",
];

/**
 * Least privilege (docs/access-control.md): a viewer reads without personal data; a sender
 * sends and uploads what it sends; an operator runs the day (sends, records consent, deletes
 * media, creates and controls campaigns) but neither erases nor reads evidence or the audit log; an auditor reads everything,
 * personal data, evidence and the audit log included, and changes nothing; admin holds all.
 */
export const roleScopes: Readonly<Record<RoleName, readonly ScopeName[]>> = {
  viewer,
  sender: ["messages:send", "messages:read", "media:read", "media:write", "media:send"],
  operator: [
    ...viewer,
    "messages:send",
    "consent:write",
    "media:write",
    "media:send",
    "media:delete",
    "campaigns:write",
    "campaigns:control",
  ],
  auditor: [...viewer, "query:pii", "consent:evidence", "consent:export", "audit:read"],
  admin: allScopes,
};

/** `read` of the consent API is `consent:read`; a qualified name stays as it is. */
export const qualify = (api: string, scope: string): string =>
  scope.includes(":") ? scope : `${api}:${scope}`;

/** Who a request acts for, however it authenticated. */
export interface Principal {
  /** `key:<id>` style ids are not used: the key's own id, or the token's subject. */
  readonly id: string;
  readonly method: "api-key" | "jwt";
  readonly role?: RoleName | undefined;
  /** Qualified scopes (`consent:read`). */
  readonly scopes: ReadonlySet<string>;
  /** What the service's key file adds to the entry (the send API's requester). */
  readonly attributes: Readonly<Record<string, string>>;
}

/** Why a request was not authenticated; each is a 401 with its own detail. */
export type AuthRefusal = "missing" | "malformed" | "unknown_key" | "expired_key" | "invalid_token";

export type AuthResult =
  | { readonly ok: true; readonly principal: Principal }
  | { readonly ok: false; readonly reason: AuthRefusal; readonly detail: string };

/** One configured key, as @parley/config's `apiKeyEntry` parses it (plus service attributes). */
export interface ApiKeyConfig {
  readonly id: string;
  readonly keySha256: string;
  readonly scopes?: readonly string[] | undefined;
  readonly role?: RoleName | undefined;
  readonly expiresAt?: string | undefined;
  readonly requester?: string | undefined;
}

const grantsOf = (api: string, role: RoleName | undefined, scopes: readonly string[] = []) =>
  new Set([...(role === undefined ? [] : roleScopes[role]), ...scopes.map((s) => qualify(api, s))]);

const sha256 = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/** The hex SHA-256 of an API key, as the key files store it (`printf %s "$KEY" | sha256sum`). */
export const hashApiKey = (key: string): string => sha256(key).toString("hex");

/**
 * API keys matched by their SHA-256 against every configured hash with timingSafeEqual, always
 * comparing all of them, so the answer's timing says nothing about which hash was close. Several
 * keys may be valid at once (rotation overlap); an expired one is refused and named.
 */
export function createApiKeyring(api: string, entries: readonly ApiKeyConfig[]) {
  const keys = entries.map((e) => ({
    digest: Buffer.from(e.keySha256, "hex"),
    expiresAtMs: e.expiresAt === undefined ? Infinity : Date.parse(e.expiresAt),
    expiresAt: e.expiresAt,
    principal: {
      id: e.id,
      method: "api-key",
      role: e.role,
      scopes: grantsOf(api, e.role, e.scopes),
      attributes: e.requester === undefined ? {} : { requester: e.requester },
    } satisfies Principal,
  }));
  return {
    size: keys.length,
    authenticate(presented: string, nowMs: number): AuthResult {
      const digest = sha256(presented);
      let found: (typeof keys)[number] | undefined;
      for (const key of keys) if (timingSafeEqual(digest, key.digest)) found ??= key;
      if (found === undefined)
        return { ok: false, reason: "unknown_key", detail: "the API key is not valid" };
      if (nowMs >= found.expiresAtMs) {
        return {
          ok: false,
          reason: "expired_key",
          detail: `the API key "${found.principal.id}" expired at ${String(found.expiresAt)}; use its successor`,
        };
      }
      return { ok: true, principal: found.principal };
    },
  };
}

export interface JwtSettings {
  readonly issuer: string;
  readonly audience: string;
  /** The JWKS endpoint, or the set itself. */
  readonly jwks: URL | JSONWebKeySet;
  readonly algorithms: readonly string[];
  readonly clockToleranceSeconds?: number;
}

/** Why jose refused a token, in words a caller can act on (never the token itself). */
function refusalOf(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "the token has expired";
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return error.claim === "iss"
      ? "the token's issuer is not accepted"
      : error.claim === "aud"
        ? "the token's audience is not this API"
        : `the token's ${error.claim} claim is ${error.reason}`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "the token's algorithm is not accepted";
  if (error instanceof joseErrors.JWKSNoMatchingKey)
    return "no key of the issuer matches the token (kid and algorithm)";
  if (error instanceof joseErrors.JWSSignatureVerificationFailed)
    return "the token's signature does not verify";
  if (error instanceof joseErrors.JWKSTimeout) return "the issuer's keys could not be fetched";
  if (error instanceof joseErrors.JOSEError) return "the token is not a valid signed JWT";
  return "the token could not be verified";
}

/**
 * OAuth 2.1 client-credentials access tokens: a JWT signed by a key of the issuer's JWKS, with
 * issuer, audience and expiry checked and the algorithm pinned to an asymmetric list (so `none`
 * and HS256-signed-with-the-public-key are refused). The `scope` claim carries role names
 * and/or qualified scopes; the subject (or `client_id`) is the principal.
 */
export function createJwtVerifier(api: string, settings: JwtSettings) {
  const algorithms = settings.algorithms.filter((a) => !/^(none|HS\d+)$/i.test(a));
  if (algorithms.length === 0)
    throw new RangeError("API_JWT_ALGORITHMS: at least one asymmetric algorithm is needed");
  const keys: JWTVerifyGetKey =
    settings.jwks instanceof URL
      ? createRemoteJWKSet(settings.jwks, { timeoutDuration: 5_000, cooldownDuration: 30_000 })
      : createLocalJWKSet(settings.jwks);
  return async (token: string, nowMs: number): Promise<AuthResult> => {
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms,
        requiredClaims: ["exp", "sub"],
        clockTolerance: settings.clockToleranceSeconds ?? 30,
        currentDate: new Date(nowMs),
      });
      const granted =
        typeof payload["scope"] === "string" ? payload["scope"].split(" ").filter(Boolean) : [];
      const role = roleNames.find((r) => granted.includes(r));
      const scopes = granted.filter((s) => s.includes(":"));
      const id = typeof payload["client_id"] === "string" ? payload["client_id"] : payload.sub;
      return {
        ok: true,
        principal: {
          id: id ?? "",
          method: "jwt",
          role,
          scopes: grantsOf(api, role, scopes),
          attributes: { requester: id ?? "" },
        },
      };
    } catch (error) {
      return { ok: false, reason: "invalid_token", detail: refusalOf(error) };
    }
  };
}

/** A compact JWS: three base64url parts (an API key has no dots). */
const looksLikeJwt = (token: string): boolean =>
  /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token);

export interface Authenticator {
  authenticate(authorization: string | undefined, nowMs: number): Promise<AuthResult>;
  readonly keys: number;
  readonly jwt: boolean;
}

/**
 * One `Authorization: Bearer` header to a principal: a JWT when bearer tokens are configured and
 * the credential looks like one, else an API key. Every refusal says what to fix.
 */
export function createAuthenticator({
  api,
  keys,
  jwt,
}: {
  /** The API's scope prefix (`consent`), for keys listing the API's own scope names. */
  readonly api: string;
  readonly keys: readonly ApiKeyConfig[];
  readonly jwt?: JwtSettings | undefined;
}): Authenticator {
  const keyring = createApiKeyring(api, keys);
  const verify = jwt === undefined ? undefined : createJwtVerifier(api, jwt);
  return {
    keys: keyring.size,
    jwt: verify !== undefined,
    authenticate(header, nowMs) {
      if (header === undefined || header.trim() === "") {
        return Promise.resolve({
          ok: false,
          reason: "missing",
          detail: `${verify === undefined ? "an API key" : "an API key or a bearer token"} is required: Authorization: Bearer <credential>`,
        });
      }
      const credential = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header)?.[1];
      if (credential === undefined) {
        return Promise.resolve({
          ok: false,
          reason: "malformed",
          detail: "the Authorization header must be: Bearer <credential>",
        });
      }
      if (verify !== undefined && looksLikeJwt(credential)) return verify(credential, nowMs);
      return Promise.resolve(keyring.authenticate(credential, nowMs));
    },
  };
}
