import { setFlagsFromString } from "node:v8";

/**
 * Bounds how far V8 lets the heap grow past the memory that survived the last full collection:
 * a factor of 1 + percent/100 instead of V8's own, which rises to 4 when collections look slow
 * next to allocation, as they do on a busy machine. A service's live heap stays where it was;
 * full collections come sooner, so garbage does not pile up to several times the live data.
 * It caps nothing: a heap that needs more still gets it. 0 leaves V8's factor.
 */
export function limitHeapGrowth(
  percent: number,
  setFlags: (flags: string) => void = setFlagsFromString,
): void {
  if (!Number.isInteger(percent) || percent < 0) {
    throw new RangeError(
      `limitHeapGrowth: percent must be a non-negative integer, got ${String(percent)}`,
    );
  }
  if (percent === 0) return;
  setFlags(`--heap-growing-percent=${String(percent)}`);
}
