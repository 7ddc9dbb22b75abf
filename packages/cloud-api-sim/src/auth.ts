// Bearer tokens (reference §9): 190 for an unknown or expired token, 200 for a token without
// access to the asset.
import type { Responder } from "./responses.js";
import type { Engine } from "./state.js";
import type { SimRequest, SimResponse } from "./types.js";

/** The refusal of a request whose token may not use `asset`, or undefined when it may. */
export function authenticate(
  engine: Engine,
  r: Responder,
  req: SimRequest,
  version: string,
  asset?: string,
): SimResponse | undefined {
  const header = req.headers["authorization"];
  const token = header?.startsWith("Bearer ")
    ? header.slice(7).trim()
    : (req.query.get("access_token") ?? undefined);
  const t = token === undefined ? undefined : engine.tokens.get(token);
  if (!t)
    return r.error(190, version, {
      message: "Invalid OAuth access token - Cannot parse access token",
    });
  if (t.expiresAt !== undefined && t.expiresAt <= engine.clock.now()) {
    return r.error(190, version, {
      subcode: 463,
      message: "Error validating access token: Session has expired.",
    });
  }
  if (asset !== undefined && t.assets !== undefined && !t.assets.includes(asset)) {
    const pn = engine.numbers.get(asset);
    if (!pn || !t.assets.includes(pn.wabaId))
      return r.error(200, version, { message: "(#200) Permissions error" });
  }
  return undefined;
}
