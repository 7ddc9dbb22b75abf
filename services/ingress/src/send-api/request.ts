import { createHash } from "node:crypto";
import {
  contactIdForRequest,
  createEvent,
  events,
  type EventData,
  type EventOf,
} from "@parley/contracts";
import { jsonPointer, type ProblemError } from "./problem.js";

// The HTTP body → SendRequested mapping: pure, no I/O and no clock (now and ids arrive as input).

export type SendRequestData = EventData<"SendRequested">;

export const IDEMPOTENCY_HEADER = "Idempotency-Key";

const dataSchema = events.SendRequested.shape.data;
/** Filled by the server: the requester comes from the API key, never from the body. */
const SERVER_FIELDS = new Set(["requester"]);
const bodyFields = new Set(Object.keys(dataSchema.shape).filter((f) => !SERVER_FIELDS.has(f)));
const KEY_MAX = 256;

export type MappedRequest =
  | { readonly ok: true; readonly data: SendRequestData }
  | { readonly ok: false; readonly errors: readonly ProblemError[] };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Fields of `input` the schema did not keep in `output`: unknown fields at any depth. The
 * contract's schemas strip what they do not know; the API refuses it instead, so a misspelt
 * optional field (`validUtil`) is an error rather than silently lost.
 */
function unknownFields(input: unknown, output: unknown, path: PropertyKey[]): ProblemError[] {
  if (Array.isArray(input) && Array.isArray(output)) {
    return input.flatMap((item, i) => unknownFields(item, output[i], [...path, i]));
  }
  if (!isRecord(input) || !isRecord(output)) return [];
  return Object.keys(input).flatMap((key) =>
    key in output
      ? unknownFields(input[key], output[key], [...path, key])
      : [{ pointer: jsonPointer([...path, key]), detail: "unknown field" }],
  );
}

function keyIssue(detail: string): ProblemError {
  return { header: IDEMPOTENCY_HEADER, detail };
}

/**
 * Maps a send API body plus its Idempotency-Key header to the SendRequested data, or lists
 * every issue (header and body) at once. The header is required; the body may repeat it as
 * `idempotencyKey` only with the same value. `requester` is taken from the API key.
 */
export function mapSendRequest(
  body: unknown,
  { idempotencyKey, requester }: { idempotencyKey: string | undefined; requester: string },
): MappedRequest {
  const errors: ProblemError[] = [];
  const key = idempotencyKey?.trim();
  if (key === undefined || key === "") {
    errors.push(
      keyIssue(
        "required: a key that names this send's business intent and stays the same on retries, e.g. orders:42:shipped",
      ),
    );
  } else if (key.length > KEY_MAX) {
    errors.push(keyIssue(`at most ${KEY_MAX} characters`));
  }
  if (!isRecord(body)) {
    errors.push({
      pointer: "",
      detail:
        "expected a JSON object with the send request fields (contactId, recipient, sender, content, category, ...)",
    });
    return { ok: false, errors };
  }
  for (const field of Object.keys(body)) {
    if (SERVER_FIELDS.has(field)) {
      errors.push({
        pointer: jsonPointer([field]),
        detail: `set by the server from the API key; remove ${field} from the body`,
      });
    } else if (!bodyFields.has(field)) {
      errors.push({ pointer: jsonPointer([field]), detail: "unknown field" });
    }
  }
  const bodyKey = body["idempotencyKey"];
  if (bodyKey !== undefined && key !== undefined && key !== "" && bodyKey !== key) {
    errors.push({
      pointer: "/idempotencyKey",
      detail: `must equal the ${IDEMPOTENCY_HEADER} header when given (or be left out)`,
    });
  }
  const known = Object.fromEntries(Object.entries(body).filter(([f]) => bodyFields.has(f)));
  // One person, one contact (ADR 0008): contactId is derived from the recipient when left out,
  // and must name the recipient when given.
  const recipient = known["recipient"];
  const given = known["contactId"];
  let contactIssue = false;
  if (isRecord(recipient) && (given === undefined || typeof given === "string")) {
    const phone = typeof recipient["phone"] === "string" ? recipient["phone"] : undefined;
    const userId = typeof recipient["userId"] === "string" ? recipient["userId"] : undefined;
    const resolved = contactIdForRequest(given, { phone, userId });
    if (resolved.ok) known["contactId"] = resolved.contactId;
    else {
      errors.push({ pointer: "/contactId", detail: resolved.message });
      contactIssue = true;
    }
  }
  const candidate = {
    ...known,
    // A stand-in when the header is missing or bad: that issue is already listed once.
    idempotencyKey: key !== undefined && key !== "" && key.length <= KEY_MAX ? key : "-",
    requester,
  };
  const parsed = dataSchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.path[0] === "idempotencyKey" || issue.path[0] === "requester") continue;
      if (contactIssue && issue.path[0] === "contactId") continue;
      errors.push({ pointer: jsonPointer(issue.path), detail: issue.message });
    }
  } else {
    errors.push(...unknownFields(known, parsed.data, []));
  }
  if (errors.length > 0 || !parsed.success) return { ok: false, errors };
  return { ok: true, data: parsed.data };
}

/** JSON with object keys sorted at every depth: equal data, equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * What makes two requests under one idempotency key "the same": the SHA-256 of the mapped data
 * in canonical form, so key order and whitespace in the body do not matter.
 */
export function requestFingerprint(data: SendRequestData): string {
  return createHash("sha256").update(canonicalJson(data), "utf8").digest("hex");
}

/**
 * The SendRequested event: the request id is the correlation id (outcomes carry it back as
 * `requestId`); a business-number sender is also named in the envelope's `businessNumber`.
 */
export function sendRequestedEvent(
  data: SendRequestData,
  { requestId, eventId, now }: { requestId: string; eventId: string; now: Date },
): EventOf<"SendRequested"> {
  return createEvent("SendRequested", data, {
    correlationId: requestId,
    eventId,
    now,
    ...(data.sender.kind === "businessNumber" ? { businessNumber: data.sender.phoneNumberId } : {}),
  });
}
