import { parseBucketId } from "../domain/analytics.js";
import {
  contactDocument,
  conversationDocument,
  messageDocument,
  requestDocument,
  templateDocument,
} from "../adapters/store/read-model-stores.js";
import type { MemoryReadModels } from "../projector/memory.js";
import type { BucketRow, ListedKind, ReadDocument, ReadModelsReader } from "./reader.js";

/**
 * The read port over in-memory read models (one generation: every generation number reads the
 * same), with the MongoDB reader's semantics: documents as the stores write them, lists newest
 * first by `sortAt` then `_id`, a cursor resumes after its item, filters are equality matches.
 */
export function createMemoryReader(models: MemoryReadModels): ReadModelsReader {
  const docs = (kind: ListedKind | "templates"): ReadDocument[] => {
    const { stores } = models;
    const of = <S>(
      store: { keys(): string[]; peek(k: string): { state: S } | undefined },
      toDoc: (s: S) => object,
    ) =>
      store
        .keys()
        .map(
          (k) =>
            JSON.parse(
              JSON.stringify({ _id: k, ...toDoc(store.peek(k)?.state as S) }),
            ) as ReadDocument,
        );
    switch (kind) {
      case "requests":
        return of(stores.requests, requestDocument);
      case "messages":
        return of(stores.messages, messageDocument);
      case "contacts":
        return of(stores.contacts, contactDocument);
      case "conversations":
        return of(stores.conversations, conversationDocument);
      case "templates":
        return of(stores.templates, templateDocument);
    }
  };
  const matches = (doc: ReadDocument, equals: Readonly<Record<string, string>>) =>
    Object.entries(equals).every(([k, v]) => doc[k] === v);
  const sortAt = (d: ReadDocument) => (typeof d["sortAt"] === "string" ? d["sortAt"] : "");
  return {
    one: (_g, kind, id) => Promise.resolve(docs(kind).find((d) => d._id === id)),
    many: (_g, kind, ids) => Promise.resolve(docs(kind).filter((d) => ids.includes(d._id))),
    list(_g, kind, { equals, from, to, cursor, limit }) {
      const found = docs(kind)
        .filter((d) => matches(d, equals))
        .filter(
          (d) => (from === undefined || sortAt(d) >= from) && (to === undefined || sortAt(d) < to),
        )
        .filter(
          (d) =>
            cursor === undefined ||
            sortAt(d) < cursor.at ||
            (sortAt(d) === cursor.at && d._id < cursor.id),
        )
        .sort((a, b) =>
          sortAt(a) !== sortAt(b) ? (sortAt(a) < sortAt(b) ? 1 : -1) : a._id < b._id ? 1 : -1,
        );
      return Promise.resolve(found.slice(0, limit + 1));
    },
    count: (_g, kind, equals) =>
      Promise.resolve(docs(kind).filter((d) => matches(d, equals)).length),
    buckets(_g, fromHour, toHour, equals) {
      const rows: BucketRow[] = [];
      for (const [id, totals] of models.analytics.buckets) {
        const key = parseBucketId(id);
        if (key === undefined || key.hour < fromHour || key.hour >= toHour) continue;
        const row: BucketRow = { _id: id, ...key, day: key.hour.slice(0, 10), totals };
        if (
          Object.entries(equals).every(
            ([k, v]) => (row as unknown as Record<string, unknown>)[k] === v,
          )
        )
          rows.push(row);
      }
      return Promise.resolve(rows);
    },
    templates: (_g, wabaId) =>
      Promise.resolve(
        docs("templates").filter((d) => wabaId === undefined || d["wabaId"] === wabaId),
      ),
  };
}
