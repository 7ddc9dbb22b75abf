import type { JSONWebKeySet } from "jose";
import type { JwtSettings } from "./api-access.js";

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
