import { hash } from "node:crypto";

const VARIANT = "89ab";
/** Room kept after the namespace for a name: one hash call per id for names up to 1 KB. */
const NAME_ROOM = 1_024;

/**
 * Ids derived from a name (RFC 9562, 5.5: UUIDv5, SHA-1 of a namespace and the name): the same
 * input always gets the same id, which is how a repeated decision, a redelivered record or a
 * resumed plan produces the events consumers already know. Each service has its own namespace.
 *
 * Hot: the router derives one per webhook message, a campaign plan one per recipient. So the
 * name is written after the namespace in a buffer kept per namespace and hashed in one call, with
 * no Hash object and no buffers per name (they were most of the derivation's CPU in the plan,
 * docs/benchmarks.md "Campaigns", 2026-12-07).
 */
export function nameBasedId(namespace: string): (name: string) => string {
  const space = Buffer.from(namespace.replaceAll("-", ""), "hex");
  if (space.length !== 16)
    throw new RangeError(`nameBasedId: the namespace must be 16 bytes of hex, got "${namespace}"`);
  const scratch = Buffer.alloc(16 + NAME_ROOM);
  space.copy(scratch);
  return (name) => {
    // Synchronous from write to hash: nothing else uses the buffer in between. A UTF-16 unit
    // takes at most 3 bytes of UTF-8, so a name of up to NAME_ROOM / 3 units always fits.
    const hex =
      name.length * 3 <= NAME_ROOM
        ? hash("sha1", scratch.subarray(0, 16 + scratch.write(name, 16, "utf8")), "hex")
        : hash("sha1", Buffer.concat([space, Buffer.from(name, "utf8")]), "hex");
    // Version 5 in the 13th hex digit, the RFC variant (10xx) in the 17th.
    const variant = VARIANT[Number.parseInt(hex.charAt(16), 16) & 3] ?? "8";
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  };
}
