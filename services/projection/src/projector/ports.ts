import type { StateStore } from "@parley/decider";
import type { Contribution, Totals } from "../domain/analytics.js";
import type { ContactState } from "../domain/contact.js";
import type { ConversationOutput, ConversationState } from "../domain/conversation.js";
import type { MessageOutput, MessageState } from "../domain/message.js";
import type { RequestOutput, RequestState } from "../domain/request.js";
import type { TemplateState } from "../domain/template.js";

/** Port: where one generation's read models live (MongoDB in production, memory in unit tests). */
export interface ReadModelStores {
  readonly requests: StateStore<RequestState, RequestOutput>;
  readonly messages: StateStore<MessageState, MessageOutput>;
  readonly contacts: StateStore<ContactState, never>;
  readonly conversations: StateStore<ConversationState, ConversationOutput>;
  readonly templates: StateStore<TemplateState, never>;
}

/** A bucket marked for recomputation, with the token of its latest mark when it was read. */
export interface DirtyBucket {
  readonly bucket: string;
  readonly token: string;
}

/**
 * Port: analytics buckets whose facts changed. `mark` is idempotent (marking twice is one more
 * recomputation at most); every mark writes a new token, and `clear` removes a mark only if its
 * token is still the one read, i.e. nothing marked the bucket since.
 */
export interface BucketMarks {
  mark(buckets: readonly string[]): Promise<void>;
  /** Up to `limit` marked buckets, oldest marks first. */
  take(limit: number): Promise<readonly DirtyBucket[]>;
  clear(marks: readonly DirtyBucket[]): Promise<void>;
  count(): Promise<number>;
}

/** Port: the facts of a bucket (requests and messages that count in it) and the bucket totals. */
export interface AnalyticsStore {
  contributionsOf(bucket: string): Promise<readonly Contribution[]>;
  /** Writes the bucket's totals; `undefined` removes the bucket (no fact counts in it any more). */
  put(bucket: string, totals: Totals | undefined): Promise<void>;
}

/** The documents of one generation that name a contact, per read model (their keys). */
export interface NamedDocuments {
  readonly requests: readonly string[];
  readonly messages: readonly string[];
  readonly conversations: readonly string[];
}

/**
 * Port: erasure's lookups (ADR 0012). `erased` answers which of these contacts' documents are
 * erased tombstones; `namedBy` finds the documents that still name a contact, so that an
 * erasure reaches every one of them.
 */
export interface ErasureIndex {
  erased(contactIds: readonly string[]): Promise<ReadonlySet<string>>;
  namedBy(contactId: string): Promise<NamedDocuments>;
}
