import { checkSendRequest, isJsonObject } from "@parley/contracts";
import type { SendRequestData } from "../../sending/request.js";
import { jsonPointer, type ProblemError } from "./problem.js";

// The HTTP body and Idempotency-Key header -> SendRequested data, with problem details for
// everything wrong: pure, no I/O and no clock.

export const IDEMPOTENCY_HEADER = "Idempotency-Key";

/** Filled by the server: the requester comes from the API key, never from the body. */
const SERVER_FIELDS = new Set(["requester"]);
const KEY_MAX = 256;

export type MappedRequest =
  | { readonly ok: true; readonly data: SendRequestData }
  | { readonly ok: false; readonly errors: readonly ProblemError[] };

function keyIssue(detail: string): ProblemError {
  return { header: IDEMPOTENCY_HEADER, detail };
}

/**
 * Maps a send API body plus its Idempotency-Key header to the SendRequested data, or lists
 * every issue (header and body) at once. The header is required; the body may repeat it as
 * `idempotencyKey` only with the same value. `requester` is taken from the API key. The body
 * itself is checked by `checkSendRequest` of @parley/contracts, the validator the client uses
 * too (unknown fields refused at any depth, contactId derived from the recipient: ADR 0008).
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
  if (!isJsonObject(body)) {
    errors.push({
      pointer: "",
      detail:
        "expected a JSON object with the send request fields (recipient, sender, content, category, ...)",
    });
    return { ok: false, errors };
  }
  const fromBody = Object.fromEntries(
    Object.entries(body).filter(([field]) => !SERVER_FIELDS.has(field)),
  );
  for (const field of Object.keys(body)) {
    if (SERVER_FIELDS.has(field)) {
      errors.push({
        pointer: jsonPointer([field]),
        detail: `set by the server from the API key; remove ${field} from the body`,
      });
    }
  }
  const bodyKey = body["idempotencyKey"];
  if (bodyKey !== undefined && key !== undefined && key !== "" && bodyKey !== key) {
    errors.push({
      pointer: "/idempotencyKey",
      detail: `must equal the ${IDEMPOTENCY_HEADER} header when given (or be left out)`,
    });
  }
  const checked = checkSendRequest(
    {
      ...fromBody,
      // A stand-in when the header is missing or bad: that issue is already listed once.
      idempotencyKey: key !== undefined && key !== "" && key.length <= KEY_MAX ? key : "-",
      requester,
    },
    { skip: ["idempotencyKey", "requester"] },
  );
  if (!checked.ok) {
    for (const problem of checked.problems)
      errors.push({ pointer: jsonPointer(problem.path), detail: problem.message });
  }
  if (errors.length > 0 || !checked.ok) return { ok: false, errors };
  return { ok: true, data: checked.data };
}
