import type { Rng } from "./rng.js";

// Thrift compact encoding of {1:{1:"<digits>",2:1}, 2:<from_me>, 3:"<hex>"}: the struct Meta's
// wamids decode to (reference §10). Clients must treat wamids as opaque; the shape is for realism.
function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function binaryField(fieldDelta: number, value: string): number[] {
  const bytes = [...Buffer.from(value, "latin1")];
  return [(fieldDelta << 4) | 0x08, ...varint(bytes.length), ...bytes];
}

export function wamid(waId: string, fromMe: boolean, rng: Rng): string {
  const id = fromMe ? rng.hex(18) : `3A${rng.hex(18)}`;
  const bytes = [
    0x1c, // field 1, struct
    ...binaryField(1, waId),
    0x15, // field 2 (delta 1), i32
    0x02, // zigzag(1)
    0x00, // stop inner struct
    fromMe ? 0x11 : 0x12, // field 2, bool true/false
    ...binaryField(1, id),
    0x00,
  ];
  return `wamid.${Buffer.from(bytes).toString("base64")}`;
}

/** 15 or 16 decimal digits, never starting with 0 (phone number, WABA, media and template ids). */
export function numericId(rng: Rng): string {
  return `${rng.int(1, 9)}${rng.digits(rng.chance(0.5) ? 14 : 15)}`;
}
