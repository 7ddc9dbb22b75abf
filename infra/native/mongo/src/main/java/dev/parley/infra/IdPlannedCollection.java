package dev.parley.infra;

import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.ArrayFilters;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.DefaultQueryMatcher;
import de.bwaldvogel.mongo.backend.QueryMatcher;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.memory.MemoryCollection;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.oplog.Oplog;

/**
 * An in-memory collection whose query planner narrows by a single-field index whenever the
 * filter constrains that field, as MongoDB's planner does (see {@link IndexPlanner}).
 */
final class IdPlannedCollection extends MemoryCollection {
  private final QueryMatcher positions = new DefaultQueryMatcher();

  IdPlannedCollection(
      MongoDatabase database, String name, CollectionOptions options, CursorRegistry cursors) {
    super(database, name, options, cursors);
  }

  @Override
  protected QueryResult queryDocuments(
      Document query, Document orderBy, int skip, int limit, int batchSize, Document projection) {
    Iterable<Integer> candidates = IndexPlanner.candidates(getIndexes(), query);
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

  /** See {@link DataSize}: no BSON encoding of every document written, to count bytes. */
  @Override
  protected boolean tracksDataSize() {
    return DataSize.TRACKED;
  }
}
