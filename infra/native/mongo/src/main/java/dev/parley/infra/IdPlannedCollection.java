package dev.parley.infra;

import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.memory.MemoryCollection;
import de.bwaldvogel.mongo.bson.Document;

/**
 * An in-memory collection whose query planner narrows by a single-field index whenever the
 * filter constrains that field, as MongoDB's planner does.
 *
 * <p>mongo-java-server only uses an index when the filter's keys are exactly the index's keys, so
 * {@code {_id: k, version: 3}} (a compare-and-set) scans the whole collection while {@code {_id:
 * k}} is a hash lookup. Real MongoDB serves both from the {@code _id} index. This class takes the
 * candidate positions from the index for the constrained field and still matches every candidate
 * against the full filter, so results are exactly those of the scan; only the cost changes.
 */
final class IdPlannedCollection extends MemoryCollection {
  IdPlannedCollection(
      MongoDatabase database, String name, CollectionOptions options, CursorRegistry cursors) {
    super(database, name, options, cursors);
  }

  @Override
  protected QueryResult queryDocuments(
      Document query, Document orderBy, int skip, int limit, int batchSize, Document projection) {
    if (query.size() > 1) {
      for (Index<Integer> index : getIndexes()) {
        if (index.getKeys().size() != 1) {
          continue;
        }
        String field = index.getKeys().get(0).getKey();
        if (!query.containsKey(field)) {
          continue;
        }
        Document narrowed = new Document(field, query.get(field));
        if (index.canHandle(narrowed)) {
          Iterable<Integer> candidates = index.getPositions(narrowed);
          return matchDocuments(query, candidates, orderBy, skip, limit, batchSize, projection);
        }
      }
    }
    return super.queryDocuments(query, orderBy, skip, limit, batchSize, projection);
  }
}
