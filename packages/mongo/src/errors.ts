import { ParleyError, type RetryKind } from "@parley/errors";
import {
  MongoBulkWriteError,
  MongoError,
  MongoNetworkError,
  MongoServerSelectionError,
} from "mongodb";

/**
 * Server error codes that mean "the server is not able to answer right now" (shutting down,
 * stepping down, no primary, a network timeout between members): waiting helps.
 */
const UNAVAILABLE_CODES: ReadonlySet<number> = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/**
 * Whether a failure of a MongoDB call is the server being unavailable (network, server
 * selection, a node stepping down, a retryable-write label) rather than something about the
 * request itself (a document the server refuses, BSON that cannot be built, a bug). The first is
 * waited out; the second fails the same way every time.
 */
export function mongoRetryOf(error: unknown): RetryKind {
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError)
    return "outage";
  // `collection.bulkWrite` wraps any driver error of its round trip (a connection closed or
  // interrupted, no server to select) in a MongoBulkWriteError that copies the error's own fields
  // but not its class (mongodb 6.22, bulk/common.js "return early"): such a wrapper has no write
  // errors and no code, and keeps a network error's `beforeHandshake` or a selection error's
  // `reason`. Without this, a bulk write meeting a MongoDB restart was dead-lettered (issue 26).
  if (
    error instanceof MongoBulkWriteError &&
    error.code === undefined &&
    [error.writeErrors].flat().length === 0 &&
    (Object.hasOwn(error, "beforeHandshake") || Object.hasOwn(error, "reason"))
  )
    return "outage";
  if (error instanceof MongoError) {
    if (
      error.hasErrorLabel("RetryableWriteError") ||
      error.hasErrorLabel("ResetPool") ||
      // The driver's own "try again" on an operation its pool cleared under it.
      error.hasErrorLabel("PoolRequstedRetry")
    )
      return "outage";
    const name = error.name;
    if (name === "MongoNotConnectedError" || name === "MongoTopologyClosedError") return "outage";
    if (typeof error.code === "number" && UNAVAILABLE_CODES.has(error.code)) return "outage";
  }
  return "never";
}

/** A MongoDB operation failed; `retry` says whether the server was unavailable (see mongoRetryOf). */
export class StoreError extends ParleyError {
  override readonly name = "StoreError";
  readonly operation: string;

  constructor(store: string, operation: string, cause: unknown) {
    super(
      `${store} ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { retry: mongoRetryOf(cause), cause, context: { store, operation } },
    );
    this.operation = operation;
  }
}

/**
 * Runs one store operation and turns its failure into a StoreError that says whether to wait
 * (the server is unavailable) or to give up on this input (anything else).
 */
export async function guardStore<T>(
  store: string,
  operation: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new StoreError(store, operation, error);
  }
}
