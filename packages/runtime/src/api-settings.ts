import type { JSONWebKeySet } from "jose";
import type { Logger } from "@parley/telemetry";
import { createAuthenticator, type ApiKeyConfig, type JwtSettings } from "./api-access.js";
import { tlsFilesOf } from "./api-listener.js";

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

/**
 * What an API listener needs from the service's configuration: the authenticator (its keys and
 * the bearer-JWT settings), the TLS files (reloads logged) and the HSTS max-age.
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
  }: {
    readonly api: string;
    readonly keys: readonly ApiKeyConfig[];
    readonly logger: Pick<Logger, "info" | "error">;
  },
) {
  return {
    authenticator: createAuthenticator({ api, keys, jwt: jwtSettingsOf(config) }),
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
