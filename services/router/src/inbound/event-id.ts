import { createHash } from "node:crypto";
import { canonicalJson } from "@parley/contracts";

/** Parley's own UUIDv5 namespace for event ids derived from webhook content (RFC 9562, 5.5). */
const NAMESPACE = Buffer.from("5f0e7c1a9b2d4e3f8a6b1c2d3e4f5a6b", "hex");

/**
 * A UUIDv5 of `name`: the same content always gets the same event id, so a Meta retry, a replay
 * of the raw topic or a re-driven dead letter produces events that downstream consumers (and
 * the router's own dedupe) recognise as the ones already seen.
 */
export function eventIdOf(name: string): string {
  const hash = createHash("sha1").update(NAMESPACE).update(name, "utf8").digest();
  const b = hash.subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = b.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A stable digest of any JSON value (object keys sorted), for ids of events with no Meta id. */
export function contentDigest(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}
