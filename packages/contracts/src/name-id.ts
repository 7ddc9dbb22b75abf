import { createHash } from "node:crypto";

/**
 * Ids derived from a name (RFC 9562, 5.5: UUIDv5, SHA-1 of a namespace and the name): the same
 * input always gets the same id, which is how a repeated decision, a redelivered record or a
 * resumed plan produces the events consumers already know. Each service has its own namespace.
 */
export function nameBasedId(namespace: string): (name: string) => string {
  const space = Buffer.from(namespace.replaceAll("-", ""), "hex");
  if (space.length !== 16)
    throw new RangeError(`nameBasedId: the namespace must be 16 bytes of hex, got "${namespace}"`);
  return (name) => {
    const b = createHash("sha1").update(space).update(name, "utf8").digest().subarray(0, 16);
    b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
    b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
    const hex = b.toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
}
