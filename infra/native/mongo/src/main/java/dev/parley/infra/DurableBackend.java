package dev.parley.infra;

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.ArrayFilters;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.DefaultQueryMatcher;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.QueryMatcher;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Collection;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.message.MongoMessage;
import de.bwaldvogel.mongo.oplog.Oplog;
import de.bwaldvogel.mongo.wire.message.MongoQuery;
import java.util.ArrayList;
import java.util.List;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;

/**
 * mongo-java-server's H2 MVStore backend, kept in one file on disk, with two changes:
 *
 * <ul>
 *   <li>every message (OP_MSG, or a legacy OP_QUERY) is committed to the file before its reply is sent (the MVStore's own
 *       auto-commit runs once a second, so a process killed in between would lose writes it had
 *       acknowledged); a command that changed nothing costs no write. The file is written, not
 *       fsynced: a killed or stopped server loses nothing, a power cut may (as MongoDB with
 *       {@code j: false}).
 *   <li>collections plan by index as {@link IdPlannedCollection} does, with secondary indexes
 *       that exist ({@link LeadingFieldIndex}: kept in memory, rebuilt from the documents when
 *       the file is opened).
 *   <li>unique indexes, {@code _id}'s among them, are kept on the heap too ({@link
 *       HeapUniqueIndex}), and the page cache is a sixteenth of the heap: the file holds the
 *       documents only.
 *   <li>an update works on copies of the documents it matched ({@link Collection}): a stored
 *       document is never changed in place while H2 may be writing it.
 * </ul>
 */
final class DurableBackend extends H2Backend {
  DurableBackend(String fileName) {
super(open(fileName));
  }

  /**
   * The store's background thread stays on: besides its 1 s auto-commit it compacts the file.
   * Old chunks are kept 1 s instead of 45 (H2's allowance for disks that flush late: this store
   * promises survival of a killed process, not of a power cut); at a commit per write the file
   * otherwise grew by about 10 KB per write (189 MB after 15,000 writes).
   */
  private static MVStore open(String fileName) {
    MVStore store = new MVStore.Builder().fileName(fileName).cacheSize(cacheMegabytes()).open();
    store.setRetentionTime(1_000);
    return store;
  }

  /**
   * The page cache: a sixteenth of the heap, 64 MB at the default 1 GB ({@code
   * -Dparley.mongo.cacheMb} sets it). H2's default of 16 MB held so few pages that most lookups
   * read a page from the file and deserialised it again (a third of the server's CPU at 300
   * sends/s end to end). H2 counts a cached document at twice its serialised size, a fraction of
   * what it takes on the heap: a quarter of the heap filled a 1 GB heap in a chaos run's rebuild.
   */
  private static int cacheMegabytes() {
    String set = System.getProperty("parley.mongo.cacheMb");
    if (set != null && !set.isBlank()) {
      return Integer.parseInt(set.trim());
    }
    long sixteenth = Runtime.getRuntime().maxMemory() / 16 / (1024 * 1024);
    return (int) Math.max(16, Math.min(Integer.MAX_VALUE, sixteenth));
  }

  @Override
  public Document handleMessage(MongoMessage message) {
    try {
      return super.handleMessage(message);
    } finally {
      commitIfChanged();
    }
  }

  @Override
  public QueryResult handleQuery(MongoQuery query) {
    try {
      return super.handleQuery(query);
    } finally {
      commitIfChanged();
    }
  }

  private void commitIfChanged() {
    MVStore store = getMvStore();
    if (store.hasUnsavedChanges()) {
      store.commit();
    }
  }

  @Override
  protected MongoDatabase openOrCreateDatabase(String name) {
    return new Database(name);
  }

  /**
   * Opens the same maps as H2Database does, for collections that plan by index. An inner class:
   * H2Database opens its collections from its constructor, before a field of a subclass is set,
   * while the enclosing backend (and so its store) is reachable already.
   */
  private final class Database extends H2Database {
    Database(String name) {
      super(name, getMvStore(), getCursorRegistry());
    }

    @Override
    protected MongoCollection<Object> openOrCreateCollection(
        String name, CollectionOptions options) {
      String fullName = getFullCollectionNamespace(name);
      MVStore store = getMvStore();
      MVMap<Object, Document> data = store.openMap("databases." + fullName);
      MVMap<String, Object> meta = store.openMap("meta." + fullName);
      return new Collection(this, name, options, data, meta, cursorRegistry);
    }

    /**
     * On the heap ({@link HeapUniqueIndex}), built from the documents as the collection opens. A
     * file written before keeps its index in a map of its own, which is dropped here.
     */
    @Override
    protected Index<Object> openOrCreateUniqueIndex(
        String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
      getMvStore().removeMap(getFullCollectionNamespace(collectionName) + "._index_" + indexName);
      return new HeapUniqueIndex(indexName, keys, sparse);
    }

    @Override
    protected Index<Object> openOrCreateSecondaryIndex(
        String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
      return new LeadingFieldIndex<>(indexName, keys);
    }
  }

  /**
   * mongo-java-server updates a document by changing the instance it holds, which here is also
   * the instance on the store's pages; a page of an earlier version may be serialised to the file
   * on H2's own thread meanwhile, and would then be written half updated (Java serialisation of
   * a map does not notice; a BSON encoder tried in its place failed on it). So an update (and
   * findAndModify) is handed copies of the documents it matched, and puts its result as a new
   * instance: a stored document is never changed again.
   */
  private static final class Collection extends H2Collection {
    private final QueryMatcher positions = new DefaultQueryMatcher();
    /** Set (under the collection's lock) while a findAndModify runs. */
    private boolean copying;

    Collection(
        MongoDatabase database,
        String name,
        CollectionOptions options,
        MVMap<Object, Document> data,
        MVMap<String, Object> meta,
        CursorRegistry cursors) {
      super(database, name, options, data, meta, cursors);
    }

    @Override
    protected QueryResult queryDocuments(
        Document query, Document orderBy, int skip, int limit, int batchSize, Document projection) {
      Iterable<Object> candidates = IndexPlanner.candidates(getIndexes(), query);
      QueryResult result =
          candidates != null
              ? matchDocuments(query, candidates, orderBy, skip, limit, batchSize, projection)
              : super.queryDocuments(query, orderBy, skip, limit, batchSize, projection);
      return copying ? copies(result) : result;
    }

    private static QueryResult copies(QueryResult result) {
      List<Document> copies = new ArrayList<>();
      for (Document document : result) {
        copies.add(document.cloneDeeply());
      }
      return new QueryResult(copies, result.getCursorId());
    }

    @Override
    public synchronized Document findAndModify(Document query) {
      copying = true;
      try {
        return super.findAndModify(query);
      } finally {
        copying = false;
      }
    }

    /** See {@link LeanUpdates}. */
    @Override
    public synchronized Document updateDocuments(
        Document selector,
        Document update,
        ArrayFilters arrayFilters,
        boolean isMulti,
        boolean isUpsert,
        Oplog oplog) {
      return LeanUpdates.update(
          this,
          filter -> copies(queryDocuments(filter, null, 0, 0, 0, null)),
          positions,
          getIdField(),
          selector,
          update,
          arrayFilters,
          isMulti,
          isUpsert,
          oplog);
    }

    @Override
    protected boolean tracksDataSize() {
      return DataSize.TRACKED;
    }
  }
}
