import { contactIdForRequest } from "./contact-id.js";
import { events, type EventData } from "./events.js";
import { isJsonObject } from "./json.js";

/**
 * The one validator of a send request and the one definition of "the same request", used by the
 * client (`requestSend`), ingress's HTTP send API and the router. Each edge adds only what is its
 * own (a header, the requester from an API key, how it reports a problem).
 */

export type SendRequestData = EventData<"SendRequested">;

/** One reason a send request is refused: where (a path into the request) and what to do. */
export interface SendRequestProblem {
  /** e.g. `["content", "text", "body"]`; empty for the request as a whole. */
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

export type CheckedSendRequest =
  | { readonly ok: true; readonly data: SendRequestData }
  | { readonly ok: false; readonly problems: readonly SendRequestProblem[] };

const dataSchema = events.SendRequested.shape.data;

/** The SendRequested data fields. */
export const sendRequestFields: ReadonlySet<string> = new Set(Object.keys(dataSchema.shape));

/**
 * Fields of `input` the schema did not keep in `output`, at any depth: the contract's schemas
 * strip what they do not know, and a send request refuses it instead, so a misspelt optional
 * field (`validUtil`) is an error rather than silently lost.
 */
function unknownFields(input: unknown, output: unknown, path: PropertyKey[]): SendRequestProblem[] {
  if (Array.isArray(input) && Array.isArray(output)) {
    return input.flatMap((item, i) => unknownFields(item, output[i], [...path, i]));
  }
  if (!isJsonObject(input) || !isJsonObject(output)) return [];
  return Object.keys(input).flatMap((key) =>
    key in output
      ? unknownFields(input[key], output[key], [...path, key])
      : [
          {
            path: [...path, key],
            message: "unknown field: the SendRequested contract has no such field",
          },
        ],
  );
}

/**
 * Checks a send request against the SendRequested contract and returns it parsed (with its
 * contactId derived from the recipient when left out, ADR 0008), or every problem at once:
 * unknown fields at any depth, a contactId that does not name the recipient, each schema issue.
 * `skip` names top-level fields whose schema issues the caller has reported in its own words.
 */
export function checkSendRequest(
  input: unknown,
  { skip = [] }: { readonly skip?: readonly string[] } = {},
): CheckedSendRequest {
  if (!isJsonObject(input)) {
    return {
      ok: false,
      problems: [
        {
          path: [],
          message:
            "expected an object with the SendRequested fields (recipient, idempotencyKey, sender, content, category, ...)",
        },
      ],
    };
  }
  const problems: SendRequestProblem[] = [];
  const data: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(input)) {
    if (sendRequestFields.has(field)) data[field] = value;
    else
      problems.push({
        path: [field],
        message: "unknown field: the SendRequested contract has no such field",
      });
  }
  const silenced = new Set(skip);
  // One person, one contact: the key is the recipient's canonical contact id.
  const recipient = data["recipient"];
  const given = data["contactId"];
  if (isJsonObject(recipient) && (given === undefined || typeof given === "string")) {
    const text = (v: unknown) => (typeof v === "string" ? v : undefined);
    const resolved = contactIdForRequest(given, {
      phone: text(recipient["phone"]),
      userId: text(recipient["userId"]),
    });
    if (resolved.ok) data["contactId"] = resolved.contactId;
    else {
      problems.push({ path: ["contactId"], message: resolved.message });
      silenced.add("contactId");
    }
  }
  const parsed = dataSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const top = issue.path[0];
      if (typeof top === "string" && silenced.has(top)) continue;
      problems.push({ path: issue.path, message: issue.message });
    }
    return { ok: false, problems };
  }
  problems.push(...unknownFields(data, parsed.data, []));
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, data: parsed.data };
}

/**
 * JSON text with object keys sorted at every depth and undefined members left out: equal data,
 * equal text, whatever the key order. Hash it for digests and fingerprints. A value up to
 * `SHALLOW_DEPTH` levels deep (every send request, most webhooks) is written by a recursive
 * writer that appends to one string (the router fingerprints every send request with it: the
 * frame, key and value arrays of the general writer were a tenth of the router's allocations,
 * issue 31); anything deeper by the general writer, without recursion, since webhook payloads
 * can nest thousands of levels deep and hold tens of thousands of objects. Both sort only keys
 * that are out of order and write the same text.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value !== "object" || value === null) return scalarJson(value);
  const shallow = shallowJson(value, 1);
  return shallow ?? deepJson(value);
}

/** Levels the recursive writer takes before it hands the value to the general one. */
const SHALLOW_DEPTH = 64;

function scalarJson(v: unknown): string {
  // JSON.stringify answers undefined for undefined, functions and symbols.
  const text = JSON.stringify(v) as string | undefined;
  return text ?? "null";
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** An object's own keys in canonical order (undefined members still in: the writers skip them). */
function sortedKeys(record: object): string[] {
  const keys = Object.keys(record);
  for (let i = 1; i < keys.length; i++) {
    if (!((keys[i - 1] ?? "") < (keys[i] ?? ""))) return keys.sort(byCodeUnits);
  }
  return keys;
}

/** The canonical text of an object or array, or undefined when it nests past SHALLOW_DEPTH. */
function shallowJson(node: object, depth: number): string | undefined {
  if (depth > SHALLOW_DEPTH) return undefined;
  if (Array.isArray(node)) {
    let text = "[";
    for (let i = 0; i < node.length; i++) {
      const child: unknown = node[i];
      if (i > 0) text += ",";
      if (typeof child === "object" && child !== null) {
        const inner = shallowJson(child, depth + 1);
        if (inner === undefined) return undefined;
        text += inner;
      } else text += scalarJson(child);
    }
    return text + "]";
  }
  const record = node as Record<string, unknown>;
  let text = "{";
  let first = true;
  for (const key of sortedKeys(record)) {
    const child = record[key];
    if (child === undefined) continue;
    text += first ? JSON.stringify(key) : `,${JSON.stringify(key)}`;
    first = false;
    if (typeof child === "object" && child !== null) {
      const inner = shallowJson(child, depth + 1);
      if (inner === undefined) return undefined;
      text += `:${inner}`;
    } else text += `:${scalarJson(child)}`;
  }
  return text + "}";
}

/** The general writer: an explicit stack, so any depth costs no call stack. */
function deepJson(value: object): string {
  const out: string[] = [];
  interface Frame {
    readonly items: readonly unknown[];
    /** An object's keys, sorted; undefined for an array. */
    readonly keys: readonly string[] | undefined;
    i: number;
  }
  const open = (node: object): Frame => {
    if (Array.isArray(node)) {
      out.push("[");
      return { items: node, keys: undefined, i: 0 };
    }
    out.push("{");
    const record = node as Record<string, unknown>;
    const keys = sortedKeys(record).filter((k) => record[k] !== undefined);
    return { items: keys.map((k) => record[k]), keys, i: 0 };
  };
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
    else out.push(scalarJson(child));
  }
  return out.join("");
}

/**
 * What makes two requests under one idempotency key "the same request": everything the
 * requester chose about the message (contact, recipient, sender, content, category, reply,
 * validity, fallback), in canonical JSON. Not the key itself (it is what is compared under), not
 * the requester (it scopes the key), and not `metadata`: caller bookkeeping echoed on outcomes,
 * such as an attempt counter, that does not change what is sent. A repeat that differs here is a
 * conflict; one that differs only in metadata is a repeat.
 */
export function sendRequestFingerprint(data: SendRequestData): string {
  const { idempotencyKey: _key, requester: _requester, metadata: _metadata, ...message } = data;
  return canonicalJson(message);
}
