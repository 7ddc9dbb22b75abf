import { hash } from "node:crypto";

/** The namespace's 16 bytes, then room for the name (a campaign key is under 100 bytes). */
const scratch = Buffer.alloc(16 + 1024);
Buffer.from("5b0f3c1e9a7d4e2b8c6a1d3f5e7b9c0a", "hex").copy(scratch);
const VARIANT = "89ab";

/**
 * A UUIDv5 of `name` (RFC 9562, 5.5): the request id of a recipient's send and the event ids of
 * what the plan publishes are the same on every run, so a resumed plan repeats, never adds.
 *
 * The same ids as `nameBasedId` of @parley/contracts with this namespace (property-tested in
 * ids.unit.spec.ts), hashed in one shot (`crypto.hash`) from a buffer kept for the purpose: the
 * plan derives one per recipient, and a Hash object and two buffers per name were most of the
 * derivation's CPU (a quarter of it left, measured in docs/benchmarks.md "Campaigns" 2026-12-07).
 */
export function uuidV5Of(name: string): string {
  // Synchronous from write to hash: nothing else uses the buffer in between.
  const hex =
    name.length * 3 <= scratch.length - 16
      ? hash("sha1", scratch.subarray(0, 16 + scratch.write(name, 16, "utf8")), "hex")
      : hash("sha1", Buffer.concat([scratch.subarray(0, 16), Buffer.from(name, "utf8")]), "hex");
  const variant = VARIANT[Number.parseInt(hex.charAt(16), 16) & 3] ?? "8";
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
