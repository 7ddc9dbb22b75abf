import { randomUUID } from "node:crypto";
import {
  exceedsNesting,
  MAX_DOCUMENT_NESTING,
  UnstorableStateError,
  type StateStore,
  type StateWrite,
  type Stored,
} from "@parley/decider";
import { errorMessage, ParleyError } from "@parley/errors";
import {
  MongoBulkWriteError,
  type AnyBulkWriteOperation,
  type Collection,
  type Db,
  type Document,
  type WriteError,
} from "mongodb";
import { guardStore } from "./errors.js";
import { deltaOf, rememberFields } from "./state-delta.js";

/** The fields the adapter owns in every state document; a state's own fields use other names. */
export const STATE_DOCUMENT_FIELDS = [
  "_id",
  "version",
  "writeId",
  "outbox",
  "publishedVersion",
  "updatedAt",
] as const;

/** One key's document: the adapter's fields beside the state's own (toDocument). */
export interface StateDocument extends Document {
  _id: string;
  version: number;
  /** The bulk write that wrote this version (tells which updates of a bulk write landed). */
  writeId: string;
  outbox: unknown[];
  /** The highest version whose outbox is published: from it on, the outbox counts as empty. */
  publishedVersion?: number;
  updatedAt: Date;
}

export interface MongoStateStoreOptions<State, Output> {
  readonly db: Db;
  /** The service's own collection (services never share collections). */
  readonly collection: string;
  /** The state's fields, stored at the top level of the key's document. */
  readonly toDocument: (state: State, key: string) => Document;
  /** The state from its stored document; a throw fails that key's load only. */
  readonly fromDocument: (document: StateDocument, key: string) => State;
  /** An outbox event as stored (default: as it is). */
  readonly outboxToDocument?: (event: Output) => unknown;
  /** An outbox event read back, validated (default: as stored); a throw fails that key only. */
  readonly outboxFromDocument?: (stored: unknown) => Output;
  readonly clock?: () => Date;
  /**
   * Keys whose last read or written fields (toDocument's) the store keeps, at their version and
   * write id (least recently used go first). A save of such a key at that version sends only
   * what changed (`$set` of changed fields, `$push` of a list's new tail, trimmed with `$slice`)
   * under a filter on its version and write id, instead of the whole document: the cost of a
   * save follows what the decision added, not the state's size. 0 (default): every save
   * replaces the whole document. toDocument should then return the state's own lists (not
   * copies) so the two share them, and must not mutate them.
   */
  readonly rememberKeys?: number;
}

const DUPLICATE_KEY = 11000;
const RESERVED: ReadonlySet<string> = new Set(STATE_DOCUMENT_FIELDS);

/** A stored document that cannot be turned back into state and outbox: poison for its key. */
class UnreadableStateError extends ParleyError {
  override readonly name = "UnreadableStateError";
  constructor(
    readonly key: string,
    collection: string,
    cause: unknown,
  ) {
    super(`a stored document of ${collection} cannot be read: ${errorMessage(cause)}`, {
      retry: "never",
      cause,
      context: { collection },
    });
  }
}

/**
 * StateStore on MongoDB: one document per key, written with an optimistic version, every
 * operation one query or one unordered bulk write for the whole batch (ADR 0010). A first
 * document is inserted (a duplicate `_id` is a lost race); a later one replaces the document
 * found at the version read. A bulk write counts the updates that matched without saying which,
 * so each carries the bulk's `writeId` and, when fewer matched than were sent, the stored
 * versions and write ids tell. `markPublished` raises `publishedVersion` ($max, by `_id` alone).
 * A document nested deeper than MongoDB accepts is refused before the driver sees it, with an
 * UnstorableStateError naming its key; other failures go through guardStore (an unavailable
 * server is an outage, anything else is never).
 */
export function createMongoStateStore<State, Output>({
  db,
  collection,
  toDocument,
  fromDocument,
  outboxToDocument = (event) => event,
  outboxFromDocument = (stored) => stored as Output,
  clock = () => new Date(),
  rememberKeys = 0,
}: MongoStateStoreOptions<State, Output>): StateStore<State, Output> {
  const documents: Collection<StateDocument> = db.collection<StateDocument>(collection);
  const remembered = rememberFields(rememberKeys);

  const read = (doc: StateDocument): Stored<State, Output> | Error => {
    try {
      const state = fromDocument(doc, doc._id);
      const published = (doc.publishedVersion ?? 0) >= doc.version;
      const outbox = published ? [] : doc.outbox.map((stored) => outboxFromDocument(stored));
      return { state, version: doc.version, outbox };
    } catch (error) {
      return new UnreadableStateError(doc._id, collection, error);
    }
  };

  const fieldsOf = ({ key, state }: StateWrite<State, Output>): Document => {
    const fields = toDocument(state, key);
    for (const name of Object.keys(fields)) {
      if (RESERVED.has(name)) {
        throw new TypeError(`${collection}: toDocument returned "${name}", a field the store owns`);
      }
    }
    return fields;
  };

  // MongoDB refuses the whole document past its nesting limit; the driver, given a hostile
  // payload thousands of levels deep, may exhaust the stack first. Either way: never, this key.
  const refuseTooDeep = (key: string, written: Document) => {
    if (exceedsNesting(written, MAX_DOCUMENT_NESTING)) {
      throw new UnstorableStateError(
        key,
        `the document nests deeper than MongoDB's ${MAX_DOCUMENT_NESTING} levels`,
        { collection, maxDepth: MAX_DOCUMENT_NESTING },
      );
    }
  };

  /** The write of one key: its whole document, or (remembered at this version) what changed. */
  const operationOf = (
    write: StateWrite<State, Output>,
    fields: Document,
    writeId: string,
    updatedAt: Date,
  ): AnyBulkWriteOperation<StateDocument> => {
    const { key, outbox, expectedVersion } = write;
    const own = {
      version: expectedVersion + 1,
      writeId,
      outbox: outbox.map((event) => outboxToDocument(event)),
      updatedAt,
    };
    const known = expectedVersion === 0 ? undefined : remembered.get(key);
    if (known?.version === expectedVersion) {
      const { set, push, unset } = deltaOf(known.fields, fields);
      // The levels of what is written are those it takes in the document (a pushed item sits
      // in its list as in the whole document); what is kept was accepted before.
      const pushed: Document = {};
      for (const [name, { $each }] of Object.entries(push) as [string, { $each: unknown[] }][])
        pushed[name] = $each;
      refuseTooDeep(key, { ...set, ...pushed, outbox: own.outbox });
      return {
        updateOne: {
          filter: { _id: key, version: expectedVersion, writeId: known.writeId },
          update: {
            $set: { ...set, ...own },
            ...(Object.keys(push).length === 0 ? {} : { $push: push }),
            // As a whole-document save: the new outbox is unpublished until marked.
            $unset: { ...unset, publishedVersion: "" },
          },
        },
      };
    }
    const doc: StateDocument = { ...fields, _id: key, ...own };
    refuseTooDeep(key, doc);
    return expectedVersion === 0
      ? { insertOne: { document: doc } }
      : { replaceOne: { filter: { _id: key, version: expectedVersion }, replacement: doc } };
  };

  /** A document's own fields (toDocument's), remembered as read. */
  const remember = (doc: StateDocument) => {
    const fields: Document = {};
    for (const name of Object.keys(doc))
      if (!RESERVED.has(name)) fields[name] = doc[name] as unknown;
    remembered.set(doc._id, doc.version, doc.writeId, fields);
  };

  return {
    async loadMany(keys) {
      const found = new Map<string, Stored<State, Output> | Error>();
      if (keys.length === 0) return found;
      const unique = [...new Set(keys)];
      const [only] = unique;
      // One key: an equality filter (the MongoDB stand-in answers it without a scan).
      const filter =
        unique.length === 1 && only !== undefined ? { _id: only } : { _id: { $in: unique } };
      const docs = await guardStore(collection, "load", () => documents.find(filter).toArray());
      for (const doc of docs) {
        const stored = read(doc);
        found.set(doc._id, stored);
        if (rememberKeys > 0 && !(stored instanceof Error)) remember(doc);
      }
      return found;
    },

    async saveMany(writes) {
      const lost = new Set<string>();
      if (writes.length === 0) return lost;
      // Marks this bulk write's documents, to tell afterwards which updates landed.
      const writeId = randomUUID();
      const updatedAt = clock();
      // Built (and refused) before the driver sees any: nothing of this call is written then.
      const fields = writes.map((write) => fieldsOf(write));
      const operations = writes.map((write, index) =>
        operationOf(write, fields[index] ?? {}, writeId, updatedAt),
      );
      // Forgotten until the write is known to have landed (a failed call may have landed).
      for (const { key } of writes) remembered.delete(key);
      const matched = await guardStore(collection, "save", async () => {
        try {
          return (await documents.bulkWrite(operations, { ordered: false })).matchedCount;
        } catch (error) {
          if (!(error instanceof MongoBulkWriteError)) throw error;
          const failures: WriteError[] = [error.writeErrors].flat();
          // No write errors: the round trip itself failed (a connection cut, no server), and
          // nothing says which writes landed. Reporting the rest as saved lost first inserts
          // (issue 26's chaos run: a contact's SendRequested missing from its read model).
          if (failures.length === 0) throw error;
          for (const failure of failures) {
            const write = writes[failure.index];
            if (failure.code !== DUPLICATE_KEY || write === undefined) throw error;
            lost.add(write.key);
          }
          return error.result.matchedCount;
        }
      });
      // When some updates did not match, the stored documents say which landed: ours carry our
      // version and write id. One that landed and was overwritten since counts as lost too,
      // which is safe: its outbox was loaded by that other writer, and the caller decides again
      // on the stored state, where the decider recognises its own command.
      const updates = writes.filter((write) => write.expectedVersion > 0);
      if (matched < updates.length) {
        const current = await guardStore(collection, "save", () =>
          documents
            .find(
              { _id: { $in: updates.map((write) => write.key) } },
              { projection: { version: 1, writeId: 1 } },
            )
            .toArray(),
        );
        const stored = new Map(current.map((doc) => [doc._id, doc]));
        for (const write of updates) {
          const doc = stored.get(write.key);
          if (doc?.version !== write.expectedVersion + 1 || doc.writeId !== writeId) {
            lost.add(write.key);
          }
        }
      }
      if (rememberKeys > 0) {
        writes.forEach((write, index) => {
          if (!lost.has(write.key))
            remembered.set(write.key, write.expectedVersion + 1, writeId, fields[index] ?? {});
        });
      }
      return lost;
    },

    async markPublished(marks) {
      if (marks.length === 0) return;
      // By _id alone, not under a version filter: cheap everywhere (the MongoDB stand-in scans
      // the collection for any other filter), and $max keeps a late mark from undoing a newer.
      await guardStore(collection, "markPublished", () =>
        documents.bulkWrite(
          marks.map(({ key, version }) => ({
            updateOne: { filter: { _id: key }, update: { $max: { publishedVersion: version } } },
          })),
          { ordered: false },
        ),
      );
    },
  };
}
