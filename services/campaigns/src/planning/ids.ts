import { createHash } from "node:crypto";

/** The campaigns service's UUIDv5 namespace for ids derived from a campaign and a recipient. */
const NAMESPACE = Buffer.from("5b0f3c1e9a7d4e2b8c6a1d3f5e7b9c0a", "hex");

/**
 * A UUIDv5 of `name` (RFC 9562, 5.5): the request id of a recipient's send and the event ids of
 * what the plan publishes are the same on every run, so a resumed plan repeats, never adds.
 */
export function uuidV5Of(name: string): string {
  const hash = createHash("sha1").update(NAMESPACE).update(name, "utf8").digest();
  const b = hash.subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = b.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
