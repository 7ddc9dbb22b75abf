import type { Rng } from "./rng.js";

// Thrift compact encoding of {1:{1:"<digits>",2:1}, 2:<from_me>, 3:"<hex>"}: the struct Meta's
// wamids decode to (reference §10). Clients must treat wamids as opaque; the shape is for realism.
// Built in one buffer: a wamid is minted for every accepted send, so this is on the hot path.
export function wamid(waId: string, fromMe: boolean, rng: Rng): string {
  const id = fromMe ? rng.hex(18) : `3A${rng.hex(18)}`;
  // Ids and phone numbers are short ASCII: one latin1 byte per character, one-byte varint lengths.
  const buf = Buffer.allocUnsafe(waId.length + id.length + 10);
  let o = 0;
  buf[o++] = 0x1c; // field 1, struct
  buf[o++] = 0x18; // field delta 1, type binary
  buf[o++] = waId.length & 0x7f;
  o += buf.write(waId, o, "latin1");
  buf[o++] = 0x15; // field 2: i32 zigzag(1)
  buf[o++] = 0x02;
  buf[o++] = 0x00; // end of inner struct
  buf[o++] = fromMe ? 0x11 : 0x12; // field 2, bool
  buf[o++] = 0x18;
  buf[o++] = id.length & 0x7f;
  o += buf.write(id, o, "latin1");
  buf[o++] = 0x00;
  return `wamid.${buf.toString("base64", 0, o)}`;
}

/** 15 or 16 decimal digits, never starting with 0 (phone number, WABA, media and template ids). */
export function numericId(rng: Rng): string {
  return `${rng.int(1, 9)}${rng.digits(rng.chance(0.5) ? 14 : 15)}`;
}
