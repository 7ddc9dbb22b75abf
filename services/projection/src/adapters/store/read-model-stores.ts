import { createMongoStateStore, type StateDocument } from "@parley/mongo";
import { guardStore } from "@parley/mongo";
import type { Db, Document, IndexSpecification } from "mongodb";
import {
  bucketOfMessage,
  bucketOfRequest,
  messageContribution,
  requestContribution,
} from "../../domain/analytics.js";
import type { ContactState } from "../../domain/contact.js";
import { windowsOf, type ConversationState } from "../../domain/conversation.js";
import type { MessageState } from "../../domain/message.js";
import type { RequestState } from "../../domain/request.js";
import type { ReadModelName } from "../../domain/route.js";
import { currentStatus, pricingOf } from "../../domain/statuses.js";
import type { TemplateState } from "../../domain/template.js";
import type { ErasureIndex, ReadModelStores } from "../../projector/ports.js";

/** Every collection of one generation, by what it holds. */
export interface GenerationCollections {
  readonly requests: string;
  readonly messages: string;
  readonly contacts: string;
  readonly conversations: string;
  readonly templates: string;
  readonly analytics: string;
  readonly marks: string;
  readonly audit: string;
}

export const COLLECTION_KINDS = [
  "requests",
  "messages",
  "contacts",
  "conversations",
  "templates",
  "analytics",
  "marks",
  "audit",
] as const;

/** `<prefix>g<generation>_<kind>`: each generation's collections, never shared with another. */
export function collectionsOf(prefix: string, generation: number): GenerationCollections {
  const name = (kind: string) => `${prefix}g${String(generation)}_${kind}`;
  return Object.fromEntries(
    COLLECTION_KINDS.map((k) => [k, name(k)]),
  ) as unknown as GenerationCollections;
}

/** A state's own fields from its document (the document also holds derived query fields). */
function pick(doc: StateDocument, fields: readonly string[]): unknown {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    if (doc[field] !== undefined) out[field] = doc[field];
  }
  return out;
}

const REQUEST_FIELDS = [
  "requestId",
  "request",
  "dispatches",
  "outcomes",
  "final",
  "decision",
  "country",
  "trace",
  "erased",
];
const MESSAGE_FIELDS = [
  "wamid",
  "direction",
  "contactId",
  "businessNumber",
  "country",
  "inbound",
  "link",
  "requestHint",
  "timeline",
  "media",
  "window",
  "trace",
  "erased",
];
const CONTACT_FIELDS = [
  "contactId",
  "ids",
  "profileName",
  "consent",
  "consentHistory",
  "preference",
  "firstSeenAt",
  "lastSeenAt",
  "lastInboundAt",
  "lastOutboundAt",
  "country",
  "erased",
];
const CONVERSATION_FIELDS = [
  "key",
  "contactId",
  "businessNumber",
  "windows",
  "outbound",
  "lastInbound",
  "lastOutbound",
  "erased",
];
const TEMPLATE_FIELDS = [
  "key",
  "wabaId",
  "templateId",
  "name",
  "status",
  "firstDecision",
  "category",
  "quality",
  "history",
];

/** The fields that are not undefined (one copy, no array of entries: this runs every save). */
const defined = (fields: Record<string, unknown>): Document => {
  const document: Document = {};
  for (const name in fields) {
    const value = fields[name];
    if (value !== undefined) document[name] = value;
  }
  return document;
};

/**
 * Each document: the read model's state at the top (what a rebuild must reproduce), and the
 * fields queries filter and sort on, derived from it when it is written: the time it sorts by
 * (`sortAt`), who and what it is about, its status, and its analytics bucket and contribution.
 */
export function requestDocument(state: RequestState): Document {
  const r = state.request;
  const firstOutcome = state.outcomes[0];
  return defined({
    ...state,
    contactId: r?.contactId ?? firstOutcome?.data.contactId,
    idempotencyKey: r?.idempotencyKey ?? firstOutcome?.data.idempotencyKey,
    requester: r?.requester,
    businessNumber:
      state.dispatches[0]?.businessNumber ??
      state.outcomes.find((o) => o.businessNumber)?.businessNumber,
    template: r?.content.template,
    category: r?.category,
    status: state.decision,
    wamids: [
      ...new Set(
        state.outcomes.flatMap((o) => {
          const d = o.data as { wamid?: string; fallbackAfter?: { wamid: string } };
          return [d.fallbackAfter?.wamid, d.wamid].filter((w): w is string => w !== undefined);
        }),
      ),
    ],
    sortAt: r?.at ?? firstOutcome?.occurredAt ?? state.dispatches[0]?.at ?? "",
    bucket: bucketOfRequest(state),
    contribution: requestContribution(state),
  });
}

export function messageDocument(state: MessageState): Document {
  return defined({
    ...state,
    requestId: state.link?.requestId ?? state.requestHint,
    status: state.direction === "inbound" ? "received" : currentStatus(state.timeline),
    template: state.link?.template,
    category: state.link?.category,
    pricing: pricingOf(state.timeline),
    sortAt: state.inbound?.at ?? state.link?.acceptedAt ?? state.timeline[0]?.at ?? "",
    bucket: bucketOfMessage(state),
    contribution: messageContribution(state),
  });
}

export function contactDocument(state: ContactState): Document {
  return defined({ ...state, sortAt: state.lastSeenAt ?? "" });
}

export function conversationDocument(state: ConversationState): Document {
  const windows = windowsOf(state);
  const last = [state.lastInbound?.at, state.lastOutbound?.at, windows.at(-1)?.openedAt]
    .filter((t): t is string => t !== undefined)
    .sort()
    .at(-1);
  return defined({ ...state, windowViews: windows, sortAt: last ?? "" });
}

export function templateDocument(state: TemplateState): Document {
  return defined({
    ...state,
    templateName: state.name?.value,
    currentStatus: state.status?.event,
    sortAt: state.status?.at ?? state.name?.at ?? "",
  });
}

/** The indexes each collection's queries use (created before a generation takes events). */
const INDEXES: Readonly<Record<ReadModelName | "analytics", readonly IndexSpecification[]>> = {
  requests: [{ contactId: 1 }, { idempotencyKey: 1 }, { bucket: 1 }, { sortAt: -1 }],
  messages: [{ contactId: 1 }, { requestId: 1 }, { bucket: 1 }, { sortAt: -1 }],
  contacts: [{ sortAt: -1 }],
  conversations: [{ contactId: 1 }, { sortAt: -1 }],
  templates: [{ wabaId: 1 }],
  analytics: [{ hour: 1 }],
};

export async function ensureIndexes(db: Db, collections: GenerationCollections): Promise<void> {
  for (const [kind, specs] of Object.entries(INDEXES)) {
    const name = collections[kind as keyof GenerationCollections];
    for (const spec of specs) {
      await guardStore(name, "createIndex", () => db.collection(name).createIndex(spec));
    }
  }
}

/** The read models of one generation on MongoDB (the runtime's state store, ADR 0010). */
export function createReadModelStores(
  db: Db,
  collections: GenerationCollections,
  clock?: () => Date,
): ReadModelStores {
  const withClock = clock === undefined ? {} : { clock };
  return {
    requests: createMongoStateStore({
      db,
      collection: collections.requests,
      toDocument: requestDocument,
      fromDocument: (doc) => pick(doc, REQUEST_FIELDS) as RequestState,
      ...withClock,
    }),
    messages: createMongoStateStore({
      db,
      collection: collections.messages,
      toDocument: messageDocument,
      fromDocument: (doc) => pick(doc, MESSAGE_FIELDS) as MessageState,
      ...withClock,
    }),
    contacts: createMongoStateStore({
      db,
      collection: collections.contacts,
      toDocument: contactDocument,
      fromDocument: (doc) => pick(doc, CONTACT_FIELDS) as ContactState,
      ...withClock,
    }),
    conversations: createMongoStateStore({
      db,
      collection: collections.conversations,
      toDocument: conversationDocument,
      fromDocument: (doc) => pick(doc, CONVERSATION_FIELDS) as ConversationState,
      ...withClock,
    }),
    templates: createMongoStateStore({
      db,
      collection: collections.templates,
      toDocument: templateDocument,
      fromDocument: (doc) => pick(doc, TEMPLATE_FIELDS) as TemplateState,
      ...withClock,
    }),
  };
}

/**
 * Erasure's lookups on one generation (ADR 0012): tombstones among the contacts, and the keys of
 * the documents whose derived `contactId` (indexed) still names a contact.
 */
export function createMongoErasureIndex(db: Db, collections: GenerationCollections): ErasureIndex {
  const keysOf = async (collection: string, contactId: string): Promise<string[]> => {
    const docs = await guardStore(collection, "find", () =>
      db
        .collection<{ _id: string }>(collection)
        .find({ contactId }, { projection: { _id: 1 } })
        .toArray(),
    );
    return docs.map((d) => d._id);
  };
  return {
    async erased(contactIds) {
      const docs = await guardStore(collections.contacts, "find", () =>
        db
          .collection<{ _id: string }>(collections.contacts)
          .find({ _id: { $in: [...contactIds] }, erased: true }, { projection: { _id: 1 } })
          .toArray(),
      );
      return new Set(docs.map((d) => d._id));
    },
    async namedBy(contactId) {
      const [requests, messages, conversations] = await Promise.all([
        keysOf(collections.requests, contactId),
        keysOf(collections.messages, contactId),
        keysOf(collections.conversations, contactId),
      ]);
      return { requests, messages, conversations };
    },
  };
}
