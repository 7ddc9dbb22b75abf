package dev.parley.infra;

import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.bson.Document;
import java.util.List;

/**
 * The planning rule shared by both backends' collections: when a filter of several fields
 * constrains the single field of an index, the candidates come from that index, and the caller
 * still matches each candidate against the full filter, as MongoDB's planner does.
 *
 * <p>mongo-java-server only uses an index when the filter's keys are exactly the index's keys, so
 * {@code {_id: k, version: 3}} (a compare-and-set) scans the whole collection while {@code {_id:
 * k}} is a lookup. Results are exactly those of the scan; only the cost changes.
 */
final class IndexPlanner {
  private IndexPlanner() {}

  /** The candidate positions, or null when no single-field index narrows this filter. */
  static <P> Iterable<P> candidates(List<Index<P>> indexes, Document query) {
    if (query.size() <= 1) {
      return null;
    }
    for (Index<P> index : indexes) {
      if (index.getKeys().size() != 1) {
        continue;
      }
      String field = index.getKeys().get(0).getKey();
      if (!query.containsKey(field)) {
        continue;
      }
      Document narrowed = new Document(field, query.get(field));
      if (index.canHandle(narrowed)) {
        return index.getPositions(narrowed);
      }
    }
    return null;
  }
}
