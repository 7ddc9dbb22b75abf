import type { StateStore } from "@parley/decider";
import { createMongoStateStore, guardStore, STATE_DOCUMENT_FIELDS } from "@parley/mongo";
import type { Db, Document } from "mongodb";
import type { MediaOutput, MediaState } from "../../domain/media-object.js";
import type { MediaQueries } from "../../media/ports.js";
import type { GraphIdCache } from "../../outbound/graph-ids.js";

export const MEDIA_COLLECTION = "media_objects";
export const AUDIT_COLLECTION = "media_downloads";

const stateFields = (document: Document): MediaState => {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(document))
    if (!(STATE_DOCUMENT_FIELDS as readonly string[]).includes(name)) fields[name] = value;
  return fields as unknown as MediaState;
};

/** One document per media object (key: the media id), the decider runtime's layout (ADR 0010). */
export function createMediaStateStore(db: Db): StateStore<MediaState, MediaOutput> {
  return createMongoStateStore<MediaState, MediaOutput>({
    db,
    collection: MEDIA_COLLECTION,
    toDocument: (state) => ({ ...state }),
    fromDocument: (document, key) => {
      const state = stateFields(document);
      if (state.mediaId !== key || typeof state.status !== "string")
        throw new Error("not a media object document");
      return state;
    },
  });
}

/** The reads the API, the sweeper and erasure need, and the download audit trail. */
export function createMediaQueries(db: Db): MediaQueries & { ensureIndexes(): Promise<void> } {
  const objects = db.collection<{ _id: string }>(MEDIA_COLLECTION);
  const audit = db.collection(AUDIT_COLLECTION);
  return {
    async ensureIndexes() {
      await guardStore(MEDIA_COLLECTION, "createIndexes", async () => {
        await objects.createIndex({ status: 1, retentionEndsAt: 1 });
        await objects.createIndex({ "announcement.contactId": 1 });
        await objects.createIndex({ "deleted.removed": 1 });
        await audit.createIndex({ mediaId: 1, at: -1 });
      });
    },
    async get(mediaId) {
      const doc = await guardStore(MEDIA_COLLECTION, "findOne", () =>
        objects.findOne({ _id: mediaId }),
      );
      return doc === null ? undefined : stateFields(doc);
    },
    async expired(now, limit) {
      const docs = await guardStore(MEDIA_COLLECTION, "find", () =>
        objects
          .find({ status: "stored", retentionEndsAt: { $lte: now.toISOString() } })
          .limit(limit)
          .project({ _id: 1 })
          .toArray(),
      );
      return docs.map((d) => String(d["_id"]));
    },
    async unremoved(limit) {
      const docs = await guardStore(MEDIA_COLLECTION, "find", () =>
        objects.find({ status: "deleted", "deleted.removed": false }).limit(limit).toArray(),
      );
      return docs.map(stateFields);
    },
    async ofContact(contactId, limit) {
      const docs = await guardStore(MEDIA_COLLECTION, "find", () =>
        objects
          .find({ "announcement.contactId": contactId, status: { $in: ["stored", "pending"] } })
          .limit(limit)
          .project({ _id: 1 })
          .toArray(),
      );
      return docs.map((d) => String(d["_id"]));
    },
    async storedUnder(keyId, limit) {
      const docs = await guardStore(MEDIA_COLLECTION, "find", () =>
        objects.find({ status: "stored", "object.keyId": keyId }).limit(limit).toArray(),
      );
      return docs.map(stateFields);
    },
    async audit(entry) {
      await guardStore(AUDIT_COLLECTION, "insertOne", () => audit.insertOne({ ...entry }));
    },
    async downloads(mediaId, limit) {
      const docs = await guardStore(AUDIT_COLLECTION, "find", () =>
        audit.find({ mediaId }).sort({ at: -1 }).limit(limit).toArray(),
      );
      return docs.map((d) => ({
        mediaId: String(d["mediaId"]),
        principal: String(d["principal"]),
        at: d["at"] as Date,
        range: typeof d["range"] === "string" ? d["range"] : undefined,
        remote: typeof d["remote"] === "string" ? d["remote"] : undefined,
      }));
    },
  };
}

export const GRAPH_IDS_COLLECTION = "media_graph_ids";

/** The Graph media-id cache: one document per business number and content hash. */
export function createGraphIdCache(db: Db): GraphIdCache {
  const ids = db.collection<{ _id: string; graphMediaId: string; uploadedAt: Date }>(
    GRAPH_IDS_COLLECTION,
  );
  return {
    async get(phoneNumberId, sha256) {
      const doc = await guardStore(GRAPH_IDS_COLLECTION, "findOne", () =>
        ids.findOne({ _id: `${phoneNumberId}:${sha256}` }),
      );
      return doc === null
        ? undefined
        : { graphMediaId: doc.graphMediaId, uploadedAt: doc.uploadedAt };
    },
    async put(phoneNumberId, sha256, entry) {
      await guardStore(GRAPH_IDS_COLLECTION, "replaceOne", () =>
        ids.replaceOne(
          { _id: `${phoneNumberId}:${sha256}` },
          { graphMediaId: entry.graphMediaId, uploadedAt: entry.uploadedAt },
          { upsert: true },
        ),
      );
    },
  };
}
