import { ParleyKafkaError } from "@parley/kafka";

/**
 * Errors that say whether a retry makes sense (conventions.md, 9): the Kafka layer's base error
 * (`retriable`, `context`, `cause`), named for the client so callers can tell where it arose.
 */
export class ParleyClientError extends ParleyKafkaError {
  override readonly name: string = "ParleyClientError";
}

/** `createParleyClient` options that can never work; the message lists every problem and its fix. */
export class InvalidClientOptionsError extends ParleyClientError {
  override readonly name: string = "InvalidClientOptionsError";
  constructor(readonly problems: readonly string[]) {
    super(`createParleyClient: invalid options:\n${problems.map((p) => `  - ${p}`).join("\n")}`, {
      retry: "never",
    });
  }
}

/** One reason a send request does not match the SendRequested contract. */
export interface SendRequestIssue {
  /** Where, e.g. `["content", "text", "body"]`; empty for the request as a whole. */
  readonly path: readonly PropertyKey[];
  /** The same path as text, e.g. `content.template.components[0].parameters`, or `(request)`. */
  readonly at: string;
  readonly message: string;
}

/** The request does not match the SendRequested contract; nothing was published. Never retriable. */
export class InvalidSendRequestError extends ParleyClientError {
  override readonly name: string = "InvalidSendRequestError";
  constructor(
    readonly issues: readonly SendRequestIssue[],
    context: Record<string, unknown> = {},
  ) {
    const count = issues.length === 1 ? "1 issue" : `${issues.length} issues`;
    super(
      `invalid send request (${count}; nothing was published):\n${issues.map((i) => `  - ${i.at}: ${i.message}`).join("\n")}`,
      { retry: "never", context },
    );
  }
}

/**
 * The request has no usable idempotency key; nothing was published. A subclass of
 * InvalidSendRequestError, so `issues` still lists every other problem of the request too.
 */
export class MissingIdempotencyKeyError extends InvalidSendRequestError {
  override readonly name = "MissingIdempotencyKeyError";
}

/**
 * Kafka did not acknowledge the SendRequested. It may or may not have been appended, so retry
 * with the same `idempotencyKey` (and `requestId`): Parley answers a repeated key with the first
 * request's outcome, never with a second message. `retriable` is false only when a retry cannot
 * help (the schema is not registered, a programming error, ...).
 */
export class SendNotAcknowledgedError extends ParleyClientError {
  override readonly name = "SendNotAcknowledgedError";
}

/** The client was closed; create a new one. */
export class ClientClosedError extends ParleyClientError {
  override readonly name = "ClientClosedError";
  constructor(operation: string) {
    super(`${operation}: the Parley client is closed; create a new one with createParleyClient`, {
      retry: "never",
    });
  }
}

/** A subscription could not start (bad options, or Kafka unreachable: see `retriable`). */
export class SubscribeError extends ParleyClientError {
  override readonly name = "SubscribeError";
}

/** Whether a failure from Kafka or the layer below may succeed on a later attempt. */
export function retriableCause(error: unknown): boolean {
  if (error instanceof ParleyKafkaError) return error.retriable;
  const flag = (e: unknown): boolean | undefined =>
    typeof e === "object" &&
    e !== null &&
    typeof (e as { retriable?: unknown }).retriable === "boolean"
      ? (e as { retriable: boolean }).retriable
      : undefined;
  const own = flag(error);
  if (own === true) return true;
  // kafkajs gives up on transient failures (broker down, leader moving) with a non-retriable
  // "retries exceeded" error whose cause is retriable: for the caller, a later call may succeed.
  const cause = error instanceof Error ? error.cause : undefined;
  return own === false && flag(cause) === true;
}
