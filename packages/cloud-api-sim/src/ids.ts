import type { Rng } from "./rng.js";

// Thrift compact encoding of {1:{1:"<digits>",2:1}, 2:<from_me>, 3:"<hex>"}: the struct Meta's
// wamids decode to (reference §10). Clients must treat wamids as opaque; the shape is for realism.
function binaryField(value: string): Buffer {
  // Field delta 1, type binary; the length is a one-byte varint (ids and phone numbers are short).
  const bytes = Buffer.from(value, "latin1");
  return Buffer.concat([Buffer.from([0x18, bytes.length & 0x7f]), bytes]);
}

export function wamid(waId: string, fromMe: boolean, rng: Rng): string {
  const id = fromMe ? rng.hex(18) : `3A${rng.hex(18)}`;
  const bytes = Buffer.concat([
    Buffer.from([0x1c]), // field 1, struct
    binaryField(waId),
    Buffer.from([0x15, 0x02, 0x00]), // field 2: i32 zigzag(1); end of inner struct
    Buffer.from([fromMe ? 0x11 : 0x12]), // field 2, bool
    binaryField(id),
    Buffer.from([0x00]),
  ]);
  return `wamid.${bytes.toString("base64")}`;
}

/** 15 or 16 decimal digits, never starting with 0 (phone number, WABA, media and template ids). */
export function numericId(rng: Rng): string {
  return `${rng.int(1, 9)}${rng.digits(rng.chance(0.5) ? 14 : 15)}`;
}
