// GET /debug_token (reference §9): what Meta says about an access token. The caller authenticates
// with an app token (`<app id>|<app secret>`) or any valid token (a system user's token may
// inspect itself); the inspected token's trouble is in the answer's `data`, not an HTTP error.
import type { AccessTokenConfig } from "./options.js";
import type { Responder } from "./responses.js";
import type { Engine } from "./state.js";
import type { SimRequest, SimResponse } from "./types.js";

export const DEFAULT_TOKEN_SCOPES: readonly string[] = Object.freeze([
  "whatsapp_business_management",
  "whatsapp_business_messaging",
]);

const APPLICATION = "Parley Cloud API simulator";

/** The token a request carries: the Authorization header's bearer, else `access_token`. */
function callerToken(req: SimRequest): string | undefined {
  const header = req.headers["authorization"];
  if (header?.startsWith("Bearer ")) return header.slice(7).trim();
  return req.query.get("access_token") ?? undefined;
}

const seconds = (ms: number): number => Math.floor(ms / 1_000);

/** `data` for a token the simulator knows, valid or expired. */
function describe(t: AccessTokenConfig, appId: string, now: number): Record<string, unknown> {
  const scopes = t.scopes ?? DEFAULT_TOKEN_SCOPES;
  const expired = t.expiresAt !== undefined && t.expiresAt <= now;
  return {
    app_id: appId,
    type: t.type ?? "SYSTEM_USER",
    application: APPLICATION,
    data_access_expires_at: 0,
    // Meta: 0 for a token that never expires (a system user's "never" choice).
    expires_at: t.expiresAt === undefined ? 0 : seconds(t.expiresAt),
    is_valid: !expired,
    ...(expired
      ? {
          error: {
            code: 190,
            subcode: 463,
            message: `Error validating access token: Session has expired on ${new Date(t.expiresAt ?? now).toUTCString()}.`,
          },
        }
      : {}),
    issued_at: seconds(now) - 86_400,
    scopes: [...scopes],
    granular_scopes: scopes.map((scope) => ({
      scope,
      ...(t.assets === undefined ? {} : { target_ids: [...t.assets] }),
    })),
  };
}

export function createDebugToken({
  engine,
  responder: r,
  appId,
  appSecret,
}: {
  engine: Engine;
  responder: Responder;
  appId: string;
  appSecret: string;
}): (req: SimRequest, version: string) => SimResponse {
  const appToken = `${appId}|${appSecret}`;
  return (req, version) => {
    const now = engine.clock.now();
    const caller = callerToken(req);
    const known = caller === undefined ? undefined : engine.tokens.get(caller);
    const callerValid =
      caller === appToken ||
      (known !== undefined && (known.expiresAt === undefined || known.expiresAt > now));
    if (!callerValid)
      return r.error(190, version, {
        message: "Invalid OAuth access token - Cannot parse access token",
      });
    if (req.method !== "GET")
      return r.error(100, version, {
        subcode: 33,
        type: "GraphMethodException",
        message: `Unsupported ${req.method.toLowerCase()} request.`,
      });
    const input = req.query.get("input_token");
    if (input === null || input.length === 0)
      return r.error(100, version, { message: "(#100) The parameter input_token is required" });
    const t = engine.tokens.get(input);
    if (!t)
      return r.answer(
        200,
        {
          data: {
            error: { code: 190, message: "Invalid OAuth access token." },
            is_valid: false,
            scopes: [],
          },
        },
        version,
      );
    return r.answer(200, { data: describe(t, appId, now) }, version);
  };
}
