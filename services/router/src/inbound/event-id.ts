import { createHash } from "node:crypto";
import { canonicalJson, nameBasedId } from "@parley/contracts";

/**
 * A UUIDv5 of `name`: the same content always gets the same event id, so a Meta retry, a replay
 * of the raw topic or a re-driven dead letter produces events that downstream consumers (and
 * the router's own dedupe) recognise as the ones already seen.
 */
export const eventIdOf = nameBasedId("5f0e7c1a9b2d4e3f8a6b1c2d3e4f5a6b");

/** A stable digest of any JSON value (object keys sorted), for ids of events with no Meta id. */
export function contentDigest(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}
