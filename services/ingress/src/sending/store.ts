import { ParleyError } from "@parley/errors";

/**
 * One accepted send request, stored before its SendRequested is published: the idempotency key
 * (scoped to the API-key principal) maps to the request id and to the exact event to publish,
 * so a retry after a failed publish or a crash re-publishes the same event, never a new one.
 */
export interface SendRecord {
  readonly principal: string;
  readonly idempotencyKey: string;
  readonly requestId: string;
  readonly eventId: string;
  /** SHA-256 of the mapped request (requestFingerprint): a different body under the key is a conflict. */
  readonly fingerprint: string;
  readonly contactId: string;
  readonly requester: string;
  /** The SendRequested envelope as JSON, exactly as first built. */
  readonly eventJson: string;
  readonly acceptedAt: Date;
  /** When Kafka first acknowledged the event (acks=all); undefined while not yet published. */
  readonly publishedAt?: Date | undefined;
}

export type ClaimResult =
  { readonly claimed: true } | { readonly claimed: false; readonly existing: SendRecord };

/**
 * The idempotency store port (MongoDB in production, in memory in unit tests). A record is kept
 * for the store's retention, counted from its `acceptedAt`: after that its key is free again
 * and its request id is no longer found.
 */
export interface SendRecordStore {
  /**
   * Stores `record` unless its (principal, idempotencyKey) is held by a record still within the
   * retention (judged at `record.acceptedAt`); then returns the holder.
   */
  claim(record: SendRecord): Promise<ClaimResult>;
  /** Records the first acknowledgement of the request's event; later calls change nothing. */
  markPublished(principal: string, idempotencyKey: string, at: Date): Promise<void>;
  /** The record of a request id within one principal's requests. */
  findByRequestId(principal: string, requestId: string): Promise<SendRecord | undefined>;
}

/** Where a store's retention and clock come from (both stores take the same options). */
export interface SendRecordRetention {
  /** How long a key is honoured, from its acceptedAt. */
  readonly retentionMs: number;
  /** The current time, for lookups by request id. */
  readonly clock?: () => Date;
}

/** Whether `record` is past the retention at `now`. */
export const expired = (record: SendRecord, now: Date, retentionMs: number): boolean =>
  now.getTime() - record.acceptedAt.getTime() >= retentionMs;

/** The store did not answer (MongoDB down or slow): nothing was decided, a retry may succeed. */
export class StoreUnavailableError extends ParleyError {
  override readonly name = "StoreUnavailableError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { retry: "outage", ...options });
  }
}
