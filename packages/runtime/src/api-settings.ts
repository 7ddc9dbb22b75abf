import { readFileSync } from "node:fs";
import type { JSONWebKeySet } from "jose";
import { secretFileOf } from "@parley/config";
import { publishAuditFact, type AuditFact } from "@parley/kafka";
import type { Logger } from "@parley/telemetry";
import {
  createAuthenticator,
  type ApiKeyConfig,
  type Authenticator,
  type JwtSettings,
} from "./api-access.js";
import { keyChangeFact, keyListParser, type KeyReload } from "./api-key-files.js";
import { tlsFilesOf } from "./api-listener.js";
import { createReloadingAuthenticator } from "./key-reload.js";

/** The bearer-JWT settings of `apiAccessFields` (@parley/config), or undefined when off. */
export function jwtSettingsOf(config: {
  readonly API_JWT_ISSUER?: string | undefined;
  readonly API_JWT_AUDIENCE?: string | undefined;
  readonly API_JWT_JWKS_URL?: string | undefined;
  readonly API_JWT_JWKS?: string | undefined;
  readonly API_JWT_ALGORITHMS?: readonly string[] | undefined;
  readonly API_JWT_CLOCK_TOLERANCE_S?: number | undefined;
}): JwtSettings | undefined {
  const { API_JWT_ISSUER: issuer, API_JWT_AUDIENCE: audience } = config;
  if (issuer === undefined || audience === undefined) return undefined;
  let jwks: URL | JSONWebKeySet;
  if (config.API_JWT_JWKS_URL !== undefined) jwks = new URL(config.API_JWT_JWKS_URL);
  else if (config.API_JWT_JWKS !== undefined) {
    try {
      jwks = JSON.parse(config.API_JWT_JWKS) as JSONWebKeySet;
    } catch (error) {
      throw new RangeError(`API_JWT_JWKS: not JSON (${(error as Error).message})`);
    }
    if (!Array.isArray(jwks.keys)) throw new RangeError('API_JWT_JWKS: needs a "keys" array');
  } else return undefined;
  return {
    issuer,
    audience,
    jwks,
    algorithms: config.API_JWT_ALGORITHMS ?? ["RS256", "PS256", "ES256", "EdDSA"],
    clockToleranceSeconds: config.API_JWT_CLOCK_TOLERANCE_S ?? 30,
  };
}

type JwtConfig = Parameters<typeof jwtSettingsOf>[0];

/**
 * The API's authenticator, with its key file (`<variable>_FILE`, or `reload.file`) and JWKS file
 * (`API_JWT_JWKS_FILE`) re-read when they change: a rotation with overlap needs no restart, each
 * change is published as AuditRecorded `keys.changed` (key ids and JWKS `kid`s, never material),
 * and a file that does not parse keeps the keys in use (logged as an error). Without any file
 * (keys given inline) or without `reload`, a fixed authenticator as before.
 */
export function apiAuthenticatorOf(
  config: JwtConfig,
  {
    api,
    keys,
    logger,
    reload,
  }: {
    readonly api: string;
    readonly keys: readonly ApiKeyConfig[];
    readonly logger: Pick<Logger, "info" | "error">;
    readonly reload?: KeyReload | undefined;
  },
): Authenticator {
  const jwt = jwtSettingsOf(config);
  const env = reload?.env ?? process.env;
  const keysFile =
    reload?.file ?? (reload === undefined ? undefined : secretFileOf(reload.variable, env));
  // A JWKS given inline through its file (API_JWT_JWKS_FILE); a JWKS_URL is refetched by jose
  // itself when a token names an unknown kid, so an added signing key is taken up without this.
  const jwksFile =
    reload !== undefined && config.API_JWT_JWKS_URL === undefined && jwt !== undefined
      ? secretFileOf("API_JWT_JWKS", env)
      : undefined;
  if (reload === undefined || (keysFile === undefined && jwksFile === undefined))
    return createAuthenticator({ api, keys, jwt });
  const parseKeys = keyListParser(reload.schema, keysFile ?? "");
  // The file as it is now (a key file named apart from the configuration is read here first;
  // a bad one stops the start, like a bad <variable>).
  const initialKeys = keysFile === undefined ? keys : parseKeys(readFileSync(keysFile, "utf8"));
  const files = [keysFile, jwksFile].filter((f): f is string => f !== undefined);
  const { audit } = reload;
  const record =
    typeof audit === "function"
      ? audit
      : (fact: AuditFact) => {
          publishAuditFact(audit, fact).catch((error: unknown) => {
            logger.error(
              { err: error, api, action: fact.action },
              "API keys changed but their AuditRecorded was not published",
            );
          });
        };
  return createReloadingAuthenticator({
    api,
    initial: { keys: initialKeys, jwks: jwt?.jwks instanceof URL ? undefined : jwt?.jwks },
    jwt,
    keysFile,
    jwksFile,
    parseKeys,
    ...(reload.intervalMs === undefined ? {} : { intervalMs: reload.intervalMs }),
    onReload: (change) => {
      logger.info({ api, ...change }, "API keys reloaded with changes");
      record(keyChangeFact(api, files, change, new Date()));
    },
    onError: (error, file) => {
      logger.error(
        { err: error, api, file },
        "the API key or JWKS file did not load; the keys in use stay",
      );
    },
  });
}

/**
 * What an API listener needs from the service's configuration: the authenticator (its keys and
 * the bearer-JWT settings, re-read on change with `reload`), the TLS files (reloads logged) and the HSTS max-age.
 */
export function apiAccessOf(
  config: Parameters<typeof jwtSettingsOf>[0] & {
    readonly HTTP_TLS_CERT_PATH?: string | undefined;
    readonly HTTP_TLS_KEY_PATH?: string | undefined;
    readonly HTTP_TLS_RELOAD_INTERVAL_MS?: number | undefined;
    readonly HTTP_HSTS_MAX_AGE_S: number;
  },
  {
    api,
    keys,
    logger,
    reload,
  }: {
    readonly api: string;
    readonly keys: readonly ApiKeyConfig[];
    readonly logger: Pick<Logger, "info" | "error">;
    /** Re-reads the key and JWKS files on change, each change audited (`apiAuthenticatorOf`). */
    readonly reload?: KeyReload | undefined;
  },
) {
  return {
    authenticator: apiAuthenticatorOf(config, { api, keys, logger, reload }),
    tls: tlsFilesOf(config, (error) => {
      if (error === undefined) logger.info({ api }, "TLS certificate reloaded");
      else
        logger.error(
          { err: error, api },
          "the new TLS certificate did not load; the previous one stays",
        );
    }),
    hstsMaxAgeSeconds: config.HTTP_HSTS_MAX_AGE_S,
  };
}
