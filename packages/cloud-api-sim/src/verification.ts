// Meta's webhook verification handshake (reference §4.1): when a callback URL is saved, Meta
// calls GET <url>?hub.mode=subscribe&hub.challenge=…&hub.verify_token=… and keeps the URL only
// if the subscriber answers 200 with the challenge as the body.
import { request } from "undici";
import type { Rng } from "./rng.js";
import type { WebhookVerification } from "./types.js";

/** One GET to a subscriber: its status and body text. Rejects on a network failure. */
export type WebhookGet = (url: string) => Promise<{ status: number; body: string }>;

export function createUndiciGet(timeoutMs: number): WebhookGet {
  return async (url) => {
    const res = await request(url, {
      method: "GET",
      headers: { "user-agent": "facebookplatform/1.0 (+http://developers.facebook.com)" },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const body = await res.body.text();
    return { status: res.statusCode, body };
  };
}

/** Runs the handshake with one subscriber; `verified` only for 200 with exactly the challenge. */
export async function verifySubscriber(
  get: WebhookGet,
  rng: Rng,
  url: string,
  verifyToken: string,
  now: () => number,
): Promise<WebhookVerification> {
  const target = new URL(url);
  if (target.protocol !== "http:" && target.protocol !== "https:")
    throw new RangeError(`webhook URL must be http(s): ${url}`);
  const challenge = `${String(rng.int(1, 9))}${rng.digits(9)}`;
  target.searchParams.set("hub.mode", "subscribe");
  target.searchParams.set("hub.challenge", challenge);
  target.searchParams.set("hub.verify_token", verifyToken);
  let status: number | "network-error";
  let answer = "";
  try {
    const res = await get(target.toString());
    status = res.status;
    answer = res.body.slice(0, 200);
  } catch {
    status = "network-error";
  }
  return {
    url,
    verified: status === 200 && answer === challenge,
    status,
    challenge,
    answer,
    at: now(),
  };
}
