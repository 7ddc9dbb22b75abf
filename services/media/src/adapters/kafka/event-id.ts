import { createHash } from "node:crypto";

/** Parley media's UUIDv5 namespace for event ids derived from a media id and the fact's name. */
const NAMESPACE = Buffer.from("6a1f0d2c8e3b4f5a9c7d1e2f3a4b5c6d", "hex");

/**
 * A UUIDv5 of `name`: a media object's events get the same ids however often a crash or a
 * redelivery makes the decider decide them, so consumers dedupe them by event id.
 */
export function eventIdOf(name: string): string {
  const hash = createHash("sha1").update(NAMESPACE).update(name, "utf8").digest();
  const b = hash.subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = b.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
