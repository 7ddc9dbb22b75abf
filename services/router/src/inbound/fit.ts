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
 * The shape of a JSON text from one linear scan, before (and far cheaper than) parsing or walking
 * it: the deepest nesting of brackets, and how many values it holds (for valid JSON, exactly). A body nested less than MAX_JSON_DEPTH holds no
 * value that needs cutting: an event never nests a webhook's value deeper than the body does.
 */
export function jsonShape(text: string): { readonly depth: number; readonly values: number } {
  let depth = 0;
  let max = 0;
  // One for the root, one per comma, one per non-empty container: every value once.
  let values = 1;
  let inString = false;
  let previous = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x22) inString = true;
    else if (c === 0x2c) values++;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (previous !== 0x7b && previous !== 0x5b) values++;
    }
    previous = c;
  }
  return { depth: max, values };
}

/** Whether a container nests more than `levels` levels below `value` (no recursion, no strings). */
function nestsDeeperThan(value: unknown, levels: number): boolean {
  const nodes: unknown[] = [value];
  const depths: number[] = [0];
  for (let node = nodes.pop(); node !== undefined; node = nodes.pop()) {
    const depth = depths.pop() ?? 0;
    if (!isContainer(node)) continue;
    if (depth >= levels) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (isContainer(child)) {
        nodes.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
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
  if (!isContainer(value) || !nestsDeeperThan(value, MAX_JSON_DEPTH - depth)) return value;
  return cutDeep(value, path, cuts, depth);
}

function cutDeep(value: unknown, path: string, cuts: Truncation[], depth: number): unknown {
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
      if (!isContainer(item)) return;
      const limited = cutDeep(item, `${path}/${String(i)}`, cuts, depth + 1);
      if (limited !== item) {
        copy ??= [...value];
        (copy as unknown[])[i] = limited;
      }
    });
  } else {
    for (const [key, item] of Object.entries(value)) {
      if (!isContainer(item)) continue;
      const limited = cutDeep(item, `${path}/${pointerSegment(key)}`, cuts, depth + 1);
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
type Key = string | number;

/**
 * What fitting measured of each container, kept while one event is cut (values never change; a
 * Map, not a WeakMap: it lives for one call, and ephemeron tables cost the collector dearly).
 */
interface Sizes {
  readonly bytes: Map<object, number>;
  readonly keys: Map<object, string[]>;
}

const bytesOf = (value: unknown): number => {
  const text = JSON.stringify(value) as string | undefined;
  return text === undefined ? 0 : Buffer.byteLength(text);
};

/** Printable ASCII but `"` and `\`: a string of these is its length plus two quotes in JSON. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** The JSON bytes of a scalar of parsed JSON (finite numbers, strings, booleans, null). */
function scalarBytes(v: unknown): number {
  if (typeof v === "string") {
    return PLAIN.test(v) ? v.length + 2 : Buffer.byteLength(JSON.stringify(v));
  }
  if (typeof v === "number") return String(v).length;
  if (typeof v === "boolean") return v ? 4 : 5;
  return 4;
}

/**
 * The keys of an object; undefined for an array, whose indices are its keys. No pair is allocated
 * per item: payloads hold millions.
 */
function keysOf(node: Container, sizes: Sizes): string[] | undefined {
  if (Array.isArray(node)) return undefined;
  // Values come from JSON.parse or compact(): neither leaves an undefined in an object (and the
  // final exact check would refuse a miscount).
  let keys = sizes.keys.get(node);
  if (keys === undefined) {
    keys = Object.keys(node);
    sizes.keys.set(node, keys);
  }
  return keys;
}

const itemCount = (node: Container, keys: readonly string[] | undefined): number =>
  keys === undefined ? (node as unknown[]).length : keys.length;

const itemAt = (node: Container, keys: readonly string[] | undefined, i: number): unknown =>
  keys === undefined ? (node as unknown[])[i] : (node as Record<string, unknown>)[keys[i] ?? ""];

/**
 * The JSON bytes of `root`, with those of every container under it remembered in `sizes` (and
 * taken from it for containers already measured): one walk, no recursion, no JSON text built.
 */
function measure(root: unknown, sizes: Sizes): number {
  if (!isContainer(root)) return scalarBytes(root);
  interface Frame {
    readonly node: Container;
    readonly keys: readonly string[] | undefined;
    readonly count: number;
    i: number;
    sum: number;
  }
  const open = (node: Container): Frame => {
    const keys = keysOf(node, sizes);
    const count = itemCount(node, keys);
    let sum = 2 + Math.max(0, count - 1);
    if (keys !== undefined) for (const k of keys) sum += scalarBytes(k) + 1;
    return { node, keys, count, i: 0, sum };
  };
  const known = sizes.bytes.get(root);
  if (known !== undefined) return known;
  const stack: Frame[] = [open(root)];
  let total = 0;
  for (let frame = stack.at(-1); frame !== undefined; frame = stack.at(-1)) {
    if (frame.i >= frame.count) {
      sizes.bytes.set(frame.node, frame.sum);
      stack.pop();
      const parent = stack.at(-1);
      if (parent === undefined) total = frame.sum;
      else parent.sum += frame.sum;
      continue;
    }
    const child = itemAt(frame.node, frame.keys, frame.i++);
    if (!isContainer(child)) frame.sum += scalarBytes(child);
    else {
      const size = sizes.bytes.get(child);
      if (size === undefined) stack.push(open(child));
      else frame.sum += size;
    }
  }
  return total;
}

/**
 * The value to cut, by its keys from `data`: from the root, follow the child that makes up at
 * least half of its parent (the one that makes the event large), and stop at a string, or at an
 * array or a many-keyed object whose size is spread over its items (cut to its first items).
 */
function findTarget(data: Container, sizes: Sizes): Key[] | undefined {
  let node: Container = data;
  const keys: Key[] = [];
  for (;;) {
    const names = keysOf(node, sizes);
    const count = itemCount(node, names);
    let largest = -1;
    let largestBytes = 0;
    let total = 0;
    for (let i = 0; i < count; i++) {
      const bytes = measure(itemAt(node, names, i), sizes);
      total += bytes;
      if (largest < 0 || bytes > largestBytes) {
        largest = i;
        largestBytes = bytes;
      }
    }
    if (largest < 0) return undefined;
    const spread = largestBytes * 2 < total;
    if (spread && node !== data && (names === undefined || count > MANY_KEYS)) return keys;
    const key: Key = names === undefined ? largest : (names[largest] ?? "");
    const value = itemAt(node, names, largest);
    if (typeof value === "string") {
      return Buffer.byteLength(value) >= MIN_CUT_BYTES ? [...keys, key] : undefined;
    }
    if (!isContainer(value)) return undefined;
    node = value;
    keys.push(key);
  }
}

const valueAt = (root: unknown, keys: readonly Key[]): unknown =>
  keys.reduce<unknown>((node, key) => (node as Record<Key, unknown>)[key], root);

/** `root` with the value at `keys` replaced, copying only the containers on the way. */
function replaceAt(root: unknown, keys: readonly Key[], value: unknown): unknown {
  const [key, ...rest] = keys;
  if (key === undefined) return value;
  if (Array.isArray(root)) {
    const copy: unknown[] = [...(root as unknown[])];
    copy[Number(key)] = replaceAt(copy[Number(key)], rest, value);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(root as Record<string, unknown>) };
  copy[String(key)] = replaceAt(copy[String(key)], rest, value);
  return copy;
}

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
 * the original), validated against its contract. Sizes are measured once and kept per container,
 * so a 3 MB payload of a million items costs a few walks, not a million JSON.stringify calls.
 * Throws EventTooLargeError when cutting cannot make it fit (nothing large enough is left to cut,
 * or the cut breaks the contract).
 */
export function fitEvent<E extends AnyEvent>(event: E, budget: number): E {
  const originalSize = bytesOf(event);
  if (originalSize <= budget) return event;
  const tooLarge = (why: string) =>
    new EventTooLargeError(
      `${event.type} ${event.eventId} is ${String(originalSize)} bytes${why} ${String(budget)}`,
      { eventType: event.type, eventId: event.eventId, bytes: originalSize, budget },
    );
  const sizes: Sizes = { bytes: new Map(), keys: new Map() };
  const { truncated = [], ...rest } = event.data as { truncated?: Truncation[] };
  let data: Record<string, unknown> = rest;
  const markers: Truncation[] = [...truncated];
  const firstCut = new Map<string, Truncation>();
  // Everything but data, and the `,"truncated":[...]` the markers add to it.
  const envelope = bytesOf({ ...event, data: 0 }) - 1;
  const markersBytes = () => (markers.length === 0 ? 0 : bytesOf(markers) + 13);
  let size = envelope + measure(data, sizes) + markersBytes();
  for (let cuts = 0; size > budget; cuts++) {
    const keys = cuts < MAX_CUTS ? findTarget(data, sizes) : undefined;
    if (keys === undefined) throw tooLarge(" and no value in it can be cut to fit");
    const path = keys.map((k) => `/${pointerSegment(k)}`).join("");
    const before = valueAt(data, keys);
    const json = measure(before, sizes);
    // What this value may keep: its share of the budget, with room for the marker.
    const keep = Math.max(0, json - (size - budget) - MARKER_SLACK_BYTES);
    const earlier = firstCut.get(path);
    let kept: unknown;
    let marker: Truncation;
    if (typeof before === "string") {
      const original = Buffer.byteLength(before);
      let text = utf8Prefix(before, Math.floor((keep * original) / Math.max(1, json)));
      if (text === before) text = utf8Prefix(before, original - 1);
      kept = text;
      marker = {
        path,
        reason: "too_large",
        originalBytes: earlier?.originalBytes ?? original,
        keptBytes: Buffer.byteLength(text),
        sha256: earlier?.sha256 ?? sha256(before),
      };
    } else {
      const container = before as Container;
      const names = keysOf(container, sizes);
      const items = itemCount(container, names);
      let used = 2;
      let count = 0;
      for (; count < items; count++) {
        const name = names?.[count];
        const item =
          measure(itemAt(container, names, count), sizes) +
          1 +
          (name === undefined ? 0 : scalarBytes(name) + 1);
        if (used + item > keep) break;
        used += item;
      }
      // An array keeps one item at least (contracts ask for non-empty lists); cutting it further
      // happens inside that item on the next turn. Something must go each turn.
      if (names === undefined) count = Math.max(1, count);
      count = Math.min(count, items - 1);
      kept =
        names === undefined
          ? (container as unknown[]).slice(0, count)
          : Object.fromEntries(
              names.slice(0, count).map((k) => [k, (container as Record<string, unknown>)[k]]),
            );
      marker = {
        path,
        reason: "too_large",
        originalBytes: earlier?.originalBytes ?? json,
        keptBytes: measure(kept, sizes),
        originalItems: earlier?.originalItems ?? items,
        keptItems: count,
        sha256: earlier?.sha256 ?? sha256(JSON.stringify(container)),
      };
    }
    data = replaceAt(data, keys, kept) as Record<string, unknown>;
    firstCut.set(path, marker);
    const others = markers.filter((m) => !(m.path === path && m.reason === "too_large"));
    markers.length = 0;
    markers.push(...others, marker);
    size = envelope + measure(data, sizes) + markersBytes();
  }
  const candidate = {
    ...event,
    data: markers.length === 0 ? data : { ...data, truncated: markers },
  };
  let fitted: E;
  try {
    fitted = parseEvent(candidate) as E;
  } catch {
    throw tooLarge("; cut to fit it no longer meets its contract:");
  }
  if (bytesOf(fitted) > budget) throw tooLarge("; cut, it still does not fit");
  return fitted;
}
