import { createHash } from "node:crypto";
import { parseEvent, type AnyEvent, type Truncation } from "@parley/contracts";
import { ParleyError } from "@parley/errors";

// Two limits every webhook-derived event must meet before anything stores or produces it, with
// what was cut recorded in the event's own `truncated` list (the raw webhook keeps it whole):
//
// - nesting: MongoDB refuses documents nested past 100 levels, and JSON.stringify and the BSON
//   serialiser overflow the stack a little past 9,000. An event's state document adds 4 levels
//   above `data` (document, outbox, event, data), so values are cut at MAX_JSON_DEPTH below
//   `data`: a container that deep is kept as its JSON text (`too_deep`).
// - size: an event that does not fit its topic's record limit is never produced. `fitEvent` cuts
//   the value that makes it large (a long string to a prefix, a long array or object to its first
//   items) until it fits (`too_large`), or throws EventTooLargeError when no cut can make it fit.

/** Containers deeper than this below an event's `data` are kept as JSON text (Mongo: 100 - 4). */
export const MAX_JSON_DEPTH = 64;

/**
 * What a record adds to its event's JSON: Confluent framing (5 bytes), key, headers (event id,
 * type, correlation, causation, trace context) and the record batch around it. An event fits its
 * topic when its JSON is at most `maxRecordBytes - RECORD_OVERHEAD_BYTES`.
 */
export const RECORD_OVERHEAD_BYTES = 4 * 1024;

/** The largest JSON an event may have to fit a topic whose record limit is `maxRecordBytes`. */
export const eventBudgetOf = (maxRecordBytes: number): number =>
  maxRecordBytes - RECORD_OVERHEAD_BYTES;

/** No single cut of an event can make it fit its topic: the item is rejected with this reason. */
export class EventTooLargeError extends ParleyError {
  override readonly name = "EventTooLargeError";
  constructor(message: string, context: Readonly<Record<string, unknown>> = {}) {
    super(message, { retry: "never", context });
  }
}

const sha256 = (bytes: Buffer | string): string => createHash("sha256").update(bytes).digest("hex");

/** RFC 6901: `~` and `/` escaped in a pointer's segment. */
export const pointerSegment = (key: string | number): string =>
  String(key).replace(/~/g, "~0").replace(/\//g, "~1");

const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] =>
  typeof v === "object" && v !== null;

/**
 * JSON text of any parsed JSON value, without recursion: a value nested 100,000 levels (3 MB of
 * brackets, a legal webhook body) would overflow JSON.stringify's stack.
 */
export function jsonText(value: unknown): string {
  const out: string[] = [];
  interface Frame {
    readonly items: readonly unknown[];
    /** The keys of an object (each item is the value of the key at the same index). */
    readonly keys: readonly string[] | undefined;
    i: number;
  }
  const open = (node: Record<string, unknown> | unknown[]): Frame => {
    if (Array.isArray(node)) {
      out.push("[");
      return { items: node, keys: undefined, i: 0 };
    }
    out.push("{");
    const keys = Object.keys(node);
    return { items: keys.map((k) => node[k]), keys, i: 0 };
  };
  // JSON.stringify answers undefined for undefined, which parsed JSON never holds.
  const scalar = (v: unknown): string => {
    const text = JSON.stringify(v) as string | undefined;
    return text ?? "null";
  };
  if (!isContainer(value)) return scalar(value);
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
    if (isContainer(child)) stack.push(open(child));
    else out.push(scalar(child));
  }
  return out.join("");
}

/**
 * `value`, found at `path` (a pointer into an event's `data`, `depth` levels below it), with every
 * container nested MAX_JSON_DEPTH levels below `data` replaced by its JSON text; each replacement
 * is recorded in `cuts`. Values not that deep come back as they are (same reference).
 */
export function limitDepth(
  value: unknown,
  path: string,
  cuts: Truncation[],
  depth = path === "" ? 0 : path.split("/").length - 1,
): unknown {
  if (!isContainer(value)) return value;
  if (depth >= MAX_JSON_DEPTH) {
    const text = jsonText(value);
    const bytes = Buffer.byteLength(text);
    cuts.push({
      path,
      reason: "too_deep",
      originalBytes: bytes,
      keptBytes: bytes,
      sha256: sha256(text),
    });
    return text;
  }
  let copy: Record<string, unknown> | unknown[] | undefined;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const limited = limitDepth(item, `${path}/${String(i)}`, cuts, depth + 1);
      if (limited !== item) {
        copy ??= [...value];
        (copy as unknown[])[i] = limited;
      }
    });
  } else {
    for (const [key, item] of Object.entries(value)) {
      const limited = limitDepth(item, `${path}/${pointerSegment(key)}`, cuts, depth + 1);
      if (limited !== item) {
        copy ??= { ...value };
        (copy as Record<string, unknown>)[key] = limited;
      }
    }
  }
  return copy ?? value;
}

/** Strings shorter than this are never cut: ids, enums, timestamps and hashes stay whole. */
const MIN_CUT_BYTES = 256;
/** Objects with more keys than this are opaque payloads (contract objects have fewer). */
const MANY_KEYS = 32;
/** Room left for the `truncated` entries a cut adds. */
const MARKER_SLACK_BYTES = 1024;
const MAX_CUTS = 64;

type Container = Record<string, unknown> | unknown[];
interface Target {
  readonly parent: Container;
  readonly key: string | number;
  readonly path: string;
  readonly value: unknown;
}

const bytesOf = (value: unknown): number => {
  const text = JSON.stringify(value) as string | undefined;
  return text === undefined ? 0 : Buffer.byteLength(text);
};

/**
 * The value to cut: from the root, follow the child that makes up at least half of its parent
 * (the one that makes the event large), and stop at a string, or at an array or a many-keyed
 * object whose size is spread over its items (cut to its first items).
 */
function findTarget(data: Record<string, unknown>): Target | undefined {
  let parent: Container = data;
  let path = "";
  for (;;) {
    const keys: (string | number)[] = Array.isArray(parent)
      ? parent.map((_, i) => i)
      : Object.keys(parent).filter((k) => !(parent === data && k === "truncated"));
    let largest: { key: string | number; bytes: number } | undefined;
    let total = 0;
    for (const key of keys) {
      const bytes = bytesOf((parent as Record<string | number, unknown>)[key]);
      total += bytes;
      if (largest === undefined || bytes > largest.bytes) largest = { key, bytes };
    }
    if (largest === undefined) return undefined;
    const value: unknown = (parent as Record<string | number, unknown>)[largest.key];
    const childPath = `${path}/${pointerSegment(largest.key)}`;
    const spread = largest.bytes * 2 < total;
    if (spread && parent !== data && (Array.isArray(parent) || keys.length > MANY_KEYS)) {
      return { parent: parentOf(data, path), key: lastKey(path), path, value: parent };
    }
    if (typeof value === "string") {
      return Buffer.byteLength(value) >= MIN_CUT_BYTES
        ? { parent, key: largest.key, path: childPath, value }
        : undefined;
    }
    if (!isContainer(value)) return undefined;
    parent = value;
    path = childPath;
  }
}

function parentOf(data: Record<string, unknown>, path: string): Container {
  const segments = path.split("/").slice(1, -1).map(unescapeSegment);
  let node: unknown = data;
  for (const segment of segments) node = (node as Record<string, unknown>)[segment];
  return node as Container;
}

const unescapeSegment = (s: string): string => s.replace(/~1/g, "/").replace(/~0/g, "~");
const lastKey = (path: string): string => unescapeSegment(path.slice(path.lastIndexOf("/") + 1));

/** The first bytes of `s`, at most `maxBytes` of UTF-8, never splitting a character. */
function utf8Prefix(s: string, maxBytes: number): string {
  const buf = Buffer.from(s, "utf8");
  if (buf.length <= maxBytes) return s;
  let n = Math.max(0, maxBytes);
  while (n > 0 && ((buf[n] ?? 0) & 0xc0) === 0x80) n--;
  return buf.subarray(0, n).toString("utf8");
}

/**
 * `event` if its JSON fits `budget` bytes; else a copy whose largest values are cut until it
 * does, each cut recorded in `data.truncated` (path, reason, original and kept sizes, sha256 of
 * the original), validated against its contract. Throws EventTooLargeError when cutting cannot
 * make it fit (nothing large enough is left to cut, or the cut breaks the contract).
 */
export function fitEvent<E extends AnyEvent>(event: E, budget: number): E {
  let size = bytesOf(event);
  if (size <= budget) return event;
  const originalSize = size;
  const data = JSON.parse(JSON.stringify(event.data)) as Record<string, unknown>;
  const markers = [...((data["truncated"] as Truncation[] | undefined) ?? [])];
  const firstCut = new Map<string, Truncation>();
  const candidate = { ...event, data } as E;
  for (let cuts = 0; size > budget; cuts++) {
    const target = cuts < MAX_CUTS ? findTarget(data) : undefined;
    if (target === undefined) {
      throw new EventTooLargeError(
        `${event.type} ${event.eventId} is ${String(originalSize)} bytes and no value in it can be cut to fit ${String(budget)}`,
        { eventType: event.type, eventId: event.eventId, bytes: originalSize, budget },
      );
    }
    const before = target.value;
    const json = bytesOf(before);
    // What this value may keep: its share of the budget, with room for the marker.
    const keep = Math.max(0, json - (size - budget) - MARKER_SLACK_BYTES);
    const earlier = firstCut.get(target.path);
    let marker: Truncation;
    if (typeof before === "string") {
      const original = Buffer.byteLength(before);
      const ratio = original / Math.max(1, json);
      let kept = utf8Prefix(before, Math.floor(keep * ratio));
      if (kept === before) kept = utf8Prefix(before, original - 1);
      (target.parent as Record<string | number, unknown>)[target.key] = kept;
      marker = {
        path: target.path,
        reason: "too_large",
        originalBytes: earlier?.originalBytes ?? original,
        keptBytes: Buffer.byteLength(kept),
        sha256: earlier?.sha256 ?? sha256(before),
      };
    } else {
      const entries: [string | number, unknown][] = Array.isArray(before)
        ? before.map((v, i) => [i, v])
        : Object.entries(before as Record<string, unknown>);
      let used = 2;
      let count = 0;
      for (const [key, value] of entries) {
        const item = bytesOf(value) + 1 + (typeof key === "string" ? bytesOf(key) + 1 : 0);
        if (used + item > keep) break;
        used += item;
        count++;
      }
      // An array keeps one item at least (contracts ask for non-empty lists); cutting it further
      // happens inside that item on the next turn. Something must go each turn.
      if (Array.isArray(before)) count = Math.max(1, count);
      count = Math.min(count, entries.length - 1);
      const kept = Array.isArray(before)
        ? before.slice(0, count)
        : Object.fromEntries(entries.slice(0, count));
      (target.parent as Record<string | number, unknown>)[target.key] = kept;
      marker = {
        path: target.path,
        reason: "too_large",
        originalBytes: earlier?.originalBytes ?? json,
        keptBytes: bytesOf(kept),
        originalItems: earlier?.originalItems ?? entries.length,
        keptItems: count,
        sha256: earlier?.sha256 ?? sha256(JSON.stringify(before)),
      };
    }
    firstCut.set(target.path, marker);
    const others = markers.filter((m) => !(m.path === marker.path && m.reason === "too_large"));
    markers.length = 0;
    markers.push(...others, marker);
    data["truncated"] = markers;
    size = bytesOf(candidate);
  }
  try {
    return parseEvent(candidate) as E;
  } catch (error) {
    throw new EventTooLargeError(
      `${event.type} ${event.eventId} is ${String(originalSize)} bytes; cut to fit ${String(budget)} it no longer meets its contract`,
      {
        eventType: event.type,
        eventId: event.eventId,
        bytes: originalSize,
        budget,
        cause: String(error),
      },
    );
  }
}
