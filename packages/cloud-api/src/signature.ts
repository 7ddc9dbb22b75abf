import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "x-hub-signature-256";
const PREFIX = "sha256=";

function toBuffer(raw: string | Uint8Array): Buffer {
  return typeof raw === "string"
    ? Buffer.from(raw, "utf8")
    : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** `sha256=<lowercase hex HMAC-SHA256(appSecret, raw body)>`, the X-Hub-Signature-256 value. */
export function signWebhookBody(raw: string | Uint8Array, appSecret: string): string {
  // A string is hashed as its UTF-8 bytes without an intermediate Buffer.
  const hmac = createHmac("sha256", appSecret);
  if (typeof raw === "string") hmac.update(raw, "utf8");
  else hmac.update(toBuffer(raw));
  return PREFIX + hmac.digest("hex");
}

/**
 * Checks X-Hub-Signature-256 over the exact raw bytes, in constant time. Never re-serialise
 * parsed JSON to check it: Meta signs its `\u`-escaped form. Several secrets may be given
 * while an app secret is being rotated; any match passes.
 */
export function verifyWebhookSignature(
  raw: string | Uint8Array,
  header: string | readonly string[] | undefined,
  appSecret: string | readonly string[],
): boolean {
  const value: string | undefined =
    typeof header === "string" || header === undefined ? header : header[0];
  if (typeof value !== "string" || !value.toLowerCase().startsWith(PREFIX)) return false;
  const hex = value.slice(PREFIX.length).trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return false;
  const given = Buffer.from(hex, "hex");
  const body = toBuffer(raw);
  let ok = false;
  for (const secret of typeof appSecret === "string" ? [appSecret] : appSecret) {
    if (secret.length === 0) continue;
    const expected = createHmac("sha256", secret).update(body).digest();
    // Evaluate every secret (no early exit) so timing does not reveal which one matched.
    ok = timingSafeEqual(expected, given) || ok;
  }
  return ok;
}

export type ChallengeResult =
  | { readonly ok: true; readonly challenge: string }
  | { readonly ok: false; readonly reason: string };

/**
 * The GET subscription check: `hub.mode=subscribe`, `hub.verify_token` equal to ours (compared in
 * constant time), answer 200 with the raw `hub.challenge`; anything else should get 403.
 */
export function verifySubscriptionChallenge(
  query: Readonly<Record<string, string | readonly string[] | undefined>>,
  verifyToken: string,
): ChallengeResult {
  const one = (k: string): string | undefined => {
    const v = query[k];
    return Array.isArray(v) ? (v[0] as string | undefined) : (v as string | undefined);
  };
  if (one("hub.mode") !== "subscribe") return { ok: false, reason: "hub.mode is not subscribe" };
  const token = one("hub.verify_token");
  const challenge = one("hub.challenge");
  if (token === undefined || challenge === undefined || challenge.length === 0) {
    return { ok: false, reason: "hub.verify_token or hub.challenge missing" };
  }
  const a = createHmac("sha256", "parley-verify").update(token).digest();
  const b = createHmac("sha256", "parley-verify").update(verifyToken).digest();
  if (verifyToken.length === 0 || !timingSafeEqual(a, b))
    return { ok: false, reason: "verify token mismatch" };
  return { ok: true, challenge };
}

/**
 * Serialises JSON the way Meta sends webhook bodies: every non-ASCII UTF-16 unit as a lowercase
 * `\uXXXX` escape (emoji become surrogate pairs), and `/` as `\/`, `@` as `\u0040`. The result
 * differs from JSON.stringify whenever those characters appear, which is the point: a receiver
 * that re-serialises parsed JSON instead of hashing raw bytes fails against it.
 */
export function metaJsonStringify(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff/@]/g, (ch) => {
    if (ch === "/") return "\\/";
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}
