import { createHash } from "node:crypto";

/** Parley's own UUIDv5 namespace for event ids derived from webhook content (RFC 9562, 5.5). */
const NAMESPACE = Buffer.from("5f0e7c1a9b2d4e3f8a6b1c2d3e4f5a6b", "hex");

/**
 * A UUIDv5 of `name`: the same content always gets the same event id, so a Meta retry, a replay
 * of the raw topic or a re-driven dead letter produces events that downstream consumers (and
 * the router's own dedupe) recognise as the ones already seen.
 */
export function eventIdOf(name: string): string {
  const hash = createHash("sha1").update(NAMESPACE).update(name, "utf8").digest();
  const b = hash.subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = b.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A stable digest of any JSON value (object keys sorted), for ids of events with no Meta id. */
export function contentDigest(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}

/**
 * JSON with every object's keys sorted (undefined values left out, as JSON.stringify does). Written
 * without recursion and with a key sort only where keys are out of order: unknown payloads can
 * hold tens of thousands of objects, and ids must not change (the text is that of the recursive
 * original, checked by a property test).
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  interface Frame {
    readonly items: readonly unknown[];
    /** An object's keys, sorted; undefined for an array. */
    readonly keys: readonly string[] | undefined;
    i: number;
  }
  const scalar = (v: unknown): string => {
    const text = JSON.stringify(v) as string | undefined;
    return text ?? "null";
  };
  const open = (node: object): Frame => {
    if (Array.isArray(node)) {
      out.push("[");
      return { items: node, keys: undefined, i: 0 };
    }
    out.push("{");
    const record = node as Record<string, unknown>;
    const keys = Object.keys(record).filter((k) => record[k] !== undefined);
    let sorted = true;
    for (let i = 1; i < keys.length && sorted; i++) sorted = (keys[i - 1] ?? "") < (keys[i] ?? "");
    if (!sorted) keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { items: keys.map((k) => record[k]), keys, i: 0 };
  };
  if (typeof value !== "object" || value === null) return scalar(value);
  const stack: Frame[] = [open(value)];
  for (let frame = stack.at(-1); frame !== undefined; frame = stack.at(-1)) {
    if (frame.i >= frame.items.length) {
      out.push(frame.keys === undefined ? "]" : "}");
      stack.pop();
      continue;
    }
    const index = frame.i++;
    if (index > 0) out.push(",");
    if (frame.keys !== undefined) out.push(JSON.stringify(frame.keys[index] ?? ""), ":");
    const child = frame.items[index];
    if (typeof child === "object" && child !== null) stack.push(open(child));
    else out.push(scalar(child));
  }
  return out.join("");
}
