/**
 * The records of a partition finished above its committed offset, written into the offset
 * commit's metadata string so that the partition's next owner skips them (records finish out of
 * order under key-level concurrency; the committed offset is only the first unfinished one).
 *
 * The set is kept relative to the committed offset C (itself unfinished, or the end):
 * offset C + d for d >= 1. Two encodings, the shorter is written (the approach of Confluent's
 * parallel consumer, written anew here):
 * - runs: `r1.` then base64url of varints, alternating lengths of not-finished and finished runs
 *   from C + 1 (sparse or clustered sets);
 * - bits: `b1.` then base64url of a bitset, bit d - 1 set when C + d is finished (dense sets).
 * Anything else in the metadata (absent, empty, another format) reads as "no records finished
 * above the committed offset".
 */

const RUNS = "r1.";
const BITS = "b1.";

function writeVarint(value: number, out: number[]): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

function readVarints(bytes: Buffer): number[] | undefined {
  const values: number[] = [];
  let value = 0;
  let scale = 1;
  for (const byte of bytes) {
    value += (byte & 0x7f) * scale;
    if (byte & 0x80) {
      scale *= 0x80;
      if (scale > 2 ** 49) return undefined;
    } else {
      values.push(value);
      value = 0;
      scale = 1;
    }
  }
  return scale === 1 ? values : undefined;
}

/** Sorted, distinct deltas (offset - committed) of the finished offsets above `committed`. */
function deltasOf(committed: bigint, finished: readonly bigint[]): number[] {
  const deltas = new Set<number>();
  for (const offset of finished) if (offset > committed) deltas.add(Number(offset - committed));
  return [...deltas].sort((a, b) => a - b);
}

function runs(deltas: readonly number[]): string {
  const out: number[] = [];
  let next = 1;
  let i = 0;
  while (i < deltas.length) {
    const start = deltas[i] ?? 0;
    let end = start;
    while (deltas[i + 1] === end + 1) {
      end++;
      i++;
    }
    i++;
    writeVarint(start - next, out);
    writeVarint(end - start + 1, out);
    next = end + 1;
  }
  return RUNS + Buffer.from(out).toString("base64url");
}

function bits(deltas: readonly number[]): string {
  const last = deltas.at(-1) ?? 0;
  const set = Buffer.alloc(Math.ceil(last / 8));
  for (const d of deltas) {
    const bit = d - 1;
    set[bit >> 3] = (set[bit >> 3] ?? 0) | (1 << (bit & 7));
  }
  return BITS + set.toString("base64url");
}

/** The shorter encoding of the finished offsets above `committed` ("" when there are none). */
export function encodeCompleted(committed: bigint, finished: readonly bigint[]): string {
  const deltas = deltasOf(committed, finished);
  if (deltas.length === 0) return "";
  const r = runs(deltas);
  // A bitset longer than the run form is never shorter: skip building it for sparse sets.
  if ((deltas.at(-1) ?? 0) / 6 > r.length) return r;
  const b = bits(deltas);
  return b.length < r.length ? b : r;
}

/** The finished offsets above `committed` that `metadata` records (none when it records none). */
export function decodeCompleted(committed: bigint, metadata: string | null | undefined): bigint[] {
  if (metadata === null || metadata === undefined) return [];
  if (metadata.startsWith(RUNS)) {
    const values = readVarints(Buffer.from(metadata.slice(RUNS.length), "base64url"));
    if (values === undefined || values.length % 2 !== 0) return [];
    const out: bigint[] = [];
    let next = 1;
    for (let i = 0; i < values.length; i += 2) {
      const start = next + (values[i] ?? 0);
      const length = values[i + 1] ?? 0;
      for (let d = start; d < start + length; d++) out.push(committed + BigInt(d));
      next = start + length;
    }
    return out;
  }
  if (metadata.startsWith(BITS)) {
    const set = Buffer.from(metadata.slice(BITS.length), "base64url");
    const out: bigint[] = [];
    for (let bit = 0; bit < set.length * 8; bit++)
      if (((set[bit >> 3] ?? 0) >> (bit & 7)) & 1) out.push(committed + BigInt(bit + 1));
    return out;
  }
  return [];
}

/**
 * What one commit can record: the committed offset, the finished offsets above it that fit in
 * `maxBytes` of metadata (a prefix of them in offset order), and that metadata. The finished
 * records past the prefix are not recorded yet: their outputs must wait for a later commit.
 */
export function fitCompleted(
  committed: bigint,
  finished: readonly bigint[],
  maxBytes: number,
): { included: bigint[]; metadata: string } {
  const sorted = [...new Set(finished.filter((o) => o > committed))].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const whole = encodeCompleted(committed, sorted);
  if (whole.length <= maxBytes) return { included: sorted, metadata: whole };
  // The longest prefix that fits: encodings grow with the prefix, so a binary search finds it.
  let low = 0;
  let high = sorted.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (encodeCompleted(committed, sorted.slice(0, mid)).length <= maxBytes) low = mid;
    else high = mid - 1;
  }
  const included = sorted.slice(0, low);
  return { included, metadata: encodeCompleted(committed, included) };
}
