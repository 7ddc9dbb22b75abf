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
    MVStore store = new MVStore.Builder().fileName(fileName).open();
    store.setRetentionTime(1_000);
    return store;
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

    @Override
    protected Index<Object> openOrCreateSecondaryIndex(
        String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
      return new LeadingFieldIndex<>(indexName, keys);
    }
  }

  private static final class Collection extends H2Collection {
    private final QueryMatcher positions = new DefaultQueryMatcher();

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
      if (candidates != null) {
        return matchDocuments(query, candidates, orderBy, skip, limit, batchSize, projection);
      }
      return super.queryDocuments(query, orderBy, skip, limit, batchSize, projection);
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
          filter -> queryDocuments(filter, null, 0, 0, 0, null),
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
