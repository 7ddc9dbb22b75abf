/**
 * One `Range: bytes=...` header against an object of `size` bytes: the inclusive range, "none"
 * when there is no header, or "unsatisfiable" (416). Several ranges are refused as unsatisfiable
 * (one range per request keeps the answer a plain body).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | "none" | "unsatisfiable" {
  if (header === undefined) return "none";
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!m) return "unsatisfiable";
  const [, a = "", b = ""] = m;
  if (a === "" && b === "") return "unsatisfiable";
  if (a === "") {
    const n = Number(b);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}
