import { createMemoryStateStore, type MemoryStateStore } from "@parley/decider";
import {
  bucketOfMessage,
  bucketOfRequest,
  messageContribution,
  requestContribution,
  type Contribution,
  type Totals,
} from "../domain/analytics.js";
import type { ContactState } from "../domain/contact.js";
import type { ConversationOutput, ConversationState } from "../domain/conversation.js";
import type { MessageOutput, MessageState } from "../domain/message.js";
import type { RequestOutput, RequestState } from "../domain/request.js";
import type { TemplateState } from "../domain/template.js";
import type {
  AnalyticsStore,
  BucketMarks,
  DirtyBucket,
  ErasureIndex,
  ReadModelStores,
} from "./ports.js";

/** The read models in memory (the fakes of the ports, for unit tests). */
export interface MemoryReadModels {
  readonly stores: {
    readonly requests: MemoryStateStore<RequestState, RequestOutput>;
    readonly messages: MemoryStateStore<MessageState, MessageOutput>;
    readonly contacts: MemoryStateStore<ContactState, never>;
    readonly conversations: MemoryStateStore<ConversationState, ConversationOutput>;
    readonly templates: MemoryStateStore<TemplateState, never>;
  } & ReadModelStores;
  readonly marks: BucketMarks;
  readonly analytics: AnalyticsStore & { readonly buckets: ReadonlyMap<string, Totals> };
  readonly erasure: ErasureIndex;
}

export function createMemoryReadModels(): MemoryReadModels {
  const stores = {
    requests: createMemoryStateStore<RequestState, RequestOutput>(),
    messages: createMemoryStateStore<MessageState, MessageOutput>(),
    contacts: createMemoryStateStore<ContactState, never>(),
    conversations: createMemoryStateStore<ConversationState, ConversationOutput>(),
    templates: createMemoryStateStore<TemplateState, never>(),
  };
  const dirty = new Map<string, { first: number; token: string }>();
  let seq = 0;
  const marks: BucketMarks = {
    mark(buckets) {
      for (const bucket of buckets) {
        const token = String(++seq);
        dirty.set(bucket, { first: dirty.get(bucket)?.first ?? seq, token });
      }
      return Promise.resolve();
    },
    take(limit) {
      return Promise.resolve(
        [...dirty]
          .sort(([, a], [, b]) => a.first - b.first)
          .slice(0, limit)
          .map(([bucket, m]): DirtyBucket => ({ bucket, token: m.token })),
      );
    },
    clear(list) {
      for (const { bucket, token } of list)
        if (dirty.get(bucket)?.token === token) dirty.delete(bucket);
      return Promise.resolve();
    },
    count: () => Promise.resolve(dirty.size),
  };
  const buckets = new Map<string, Totals>();
  const analytics = {
    buckets,
    contributionsOf(bucket: string) {
      const found: Contribution[] = [];
      for (const key of stores.requests.keys()) {
        const state = stores.requests.peek(key)?.state;
        const c = state === undefined ? undefined : requestContribution(state);
        if (state !== undefined && c !== undefined && bucketOfRequest(state) === bucket)
          found.push(c);
      }
      for (const key of stores.messages.keys()) {
        const state = stores.messages.peek(key)?.state;
        const c = state === undefined ? undefined : messageContribution(state);
        if (state !== undefined && c !== undefined && bucketOfMessage(state) === bucket)
          found.push(c);
      }
      return Promise.resolve(found);
    },
    put(bucket: string, totals: Totals | undefined) {
      if (totals === undefined) buckets.delete(bucket);
      else buckets.set(bucket, totals);
      return Promise.resolve();
    },
  };
  const keysWhere = <S>(
    store: { keys(): string[]; peek(k: string): { state: S } | undefined },
    names: (state: S) => boolean,
  ) =>
    store.keys().filter((k) => {
      const state = store.peek(k)?.state;
      return state !== undefined && names(state);
    });
  const erasure: ErasureIndex = {
    erased: (ids) =>
      Promise.resolve(new Set(ids.filter((id) => stores.contacts.peek(id)?.state.erased === true))),
    namedBy: (contactId) =>
      Promise.resolve({
        requests: keysWhere(
          stores.requests,
          (s) => (s.request?.contactId ?? s.outcomes[0]?.data.contactId) === contactId,
        ),
        messages: keysWhere(stores.messages, (s) => s.contactId === contactId),
        conversations: keysWhere(stores.conversations, (s) => s.contactId === contactId),
      }),
  };
  return { stores, marks, analytics, erasure };
}
