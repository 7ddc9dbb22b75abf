import type { Message } from "kafkajs";

/**
 * A record batch's fixed header (magic v2): base offset 8, length 4, leader epoch 4, magic 1,
 * CRC 4, attributes 2, last offset delta 4, first and max timestamps 16, producer id 8, epoch 2,
 * base sequence 4, record count 4.
 */
export const RECORD_BATCH_HEADER_BYTES = 61;

/** Zigzag varint length of a signed 32-bit value. */
function varintBytes(value: number): number {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  let bytes = 1;
  while (zigzag >= 0x80) {
    zigzag = Math.floor(zigzag / 0x80);
    bytes++;
  }
  return bytes;
}

const sizeOf = (value: Buffer | string | null | undefined): number =>
  value === null || value === undefined
    ? 0
    : typeof value === "string"
      ? Buffer.byteLength(value)
      : value.length;

/** The length field of a nullable byte string: its varint and its bytes. */
const field = (value: Buffer | string | null | undefined): number => {
  if (value === null || value === undefined) return varintBytes(-1);
  const n = sizeOf(value);
  return varintBytes(n) + n;
};

/**
 * The most bytes `message` takes inside a record batch: key, value and headers with their varint
 * lengths, plus the record's own fields at their widest (length 5, attributes 1, timestamp delta
 * 10, offset delta 5). Uncompressed, as Parley produces.
 */
export function recordBytes(message: Message): number {
  let bytes = 5 + 1 + 10 + 5 + field(message.key) + field(message.value);
  const headers = Object.entries(message.headers ?? {});
  let count = 0;
  for (const [name, value] of headers) {
    const values: readonly (Buffer | string | undefined)[] = Array.isArray(value) ? value : [value];
    for (const v of values) {
      count++;
      bytes += field(name) + field(v);
    }
  }
  return bytes + varintBytes(count);
}

/** The bytes of a record batch holding `message` alone: what the broker checks against max.message.bytes. */
export function singleRecordBatchBytes(message: Message): number {
  return RECORD_BATCH_HEADER_BYTES + recordBytes(message);
}
