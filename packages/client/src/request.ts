import {
  checkSendRequest,
  isJsonObject,
  createEvent,
  envelopeFields,
  InvalidEventError,
  type EventData,
  type EventOf,
} from "@parley/contracts";
import {
  InvalidSendRequestError,
  MissingIdempotencyKeyError,
  type SendRequestIssue,
} from "./errors.js";

/** The data of a SendRequested event, exactly as the contract declares it. */
export type SendRequestData = EventData<"SendRequested">;

/**
 * What `requestSend` takes: the SendRequested data, plus an optional `requestId`. The request id
 * becomes the event's `correlationId`, and every outcome names it as `requestId`; a new UUID is
 * used when none is given. Pass your own only to keep it stable across retries of one call.
 * `contactId` may be left out: it is derived from the recipient (ADR 0008); when given, it must
 * name the recipient.
 */
export type SendRequest = Omit<SendRequestData, "contactId"> & {
  readonly contactId?: string;
  readonly requestId?: string;
};

export interface ValidSendRequest {
  readonly requestId: string | undefined;
  readonly data: SendRequestData;
}

const requestIdSchema = envelopeFields.correlationId;

const IDEMPOTENCY_HINT =
  "pass a key that names this send's business intent and stays the same when you retry it " +
  '(e.g. "orders:42:shipped"); Parley answers a repeated key with the first request\'s outcome';

/** `["content", "components", 0, "text"]` → `content.components[0].text`. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(request)";
  return path
    .map((part, i) =>
      typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`,
    )
    .join("");
}

const issue = (path: readonly PropertyKey[], message: string): SendRequestIssue => ({
  path,
  at: formatPath(path),
  message,
});

/**
 * Checks a send request against the SendRequested contract (`checkSendRequest` of
 * @parley/contracts, the validator the HTTP send API uses too) and returns it parsed, or throws
 * with every issue at once: MissingIdempotencyKeyError when the key is absent or blank (stricter
 * than the contract's non-empty rule: a blank key is as good as none), else
 * InvalidSendRequestError. Unknown fields are refused at any depth, so a misspelt optional field
 * is not silently lost; contactId is derived from the recipient when left out (ADR 0008).
 */
export function validateSendRequest(request: unknown): ValidSendRequest {
  if (!isJsonObject(request)) {
    const checked = checkSendRequest(request);
    throw new InvalidSendRequestError(
      checked.ok ? [] : checked.problems.map((p) => issue(p.path, p.message)),
    );
  }
  const { requestId, ...data } = request;
  const issues: SendRequestIssue[] = [];

  const key = data["idempotencyKey"];
  const keyMissing =
    key === undefined || key === null || (typeof key === "string" && key.trim() === "");
  if (key === undefined || key === null) {
    issues.push(issue(["idempotencyKey"], `required: ${IDEMPOTENCY_HINT}`));
  } else if (keyMissing) {
    issues.push(issue(["idempotencyKey"], `must not be empty or blank: ${IDEMPOTENCY_HINT}`));
  }

  if (requestId !== undefined) {
    const parsedId = requestIdSchema.safeParse(requestId);
    if (!parsedId.success) {
      for (const i of parsedId.error.issues)
        issues.push(issue(["requestId", ...i.path], `${i.message} (omit it to get a new UUID)`));
    }
  }

  // The key's own issue above already says what to do.
  const checked = checkSendRequest(data, { skip: keyMissing ? ["idempotencyKey"] : [] });
  if (!checked.ok) issues.push(...checked.problems.map((p) => issue(p.path, p.message)));

  const context = typeof requestId === "string" ? { requestId } : {};
  if (keyMissing) throw new MissingIdempotencyKeyError(issues, context);
  if (issues.length > 0 || !checked.ok) throw new InvalidSendRequestError(issues, context);
  return { requestId: requestId as string | undefined, data: checked.data };
}

export interface BuildOptions {
  readonly requestId: string;
  readonly now: Date;
  readonly newId: () => string;
}

/**
 * The SendRequested envelope: the request id is its correlation id (outcomes carry it back as
 * `requestId`), and a business-number sender is named in the envelope's `businessNumber`.
 */
export function sendRequestedEvent(
  data: SendRequestData,
  { requestId, now, newId }: BuildOptions,
): EventOf<"SendRequested"> {
  try {
    return createEvent("SendRequested", data, {
      correlationId: requestId,
      now,
      generateId: newId,
      ...(data.sender.kind === "businessNumber"
        ? { businessNumber: data.sender.phoneNumberId }
        : {}),
    });
  } catch (error) {
    if (error instanceof InvalidEventError) {
      throw new InvalidSendRequestError(
        error.issues.map((i) => issue(i.path, i.message)),
        { requestId },
      );
    }
    throw error;
  }
}
