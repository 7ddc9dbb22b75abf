package dev.parley.infra;

import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.bson.Document;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The planning rule shared by both backends' collections, close to MongoDB's planner: the
 * candidates come from the index that narrows the filter most, and the caller still matches each
 * candidate against the full filter. Results are exactly those of the scan; only the cost changes.
 *
 * <ul>
 *   <li>a single-field unique index (the {@code _id} index) narrows a filter of several fields that
 *       constrains its field: mongo-java-server only uses an index when the filter's keys are
 *       exactly the index's keys, so {@code {_id: k, version: 3}} (a compare-and-set) would scan
 *       the whole collection while {@code {_id: k}} is a lookup;
 *   <li>otherwise a secondary index ({@link LeadingFieldIndex}, compound or not) narrows a filter
 *       that constrains its leading field by equality, {@code $eq} or {@code $in}; of several, the
 *       one with the fewest candidates. mongo-java-server itself keeps no secondary index at all.
 * </ul>
 *
 * <p>Candidates are returned in the collection's natural order when positions are comparable
 * (the in-memory backend's), so even an unsorted query returns what the scan returns, in the same
 * order.
 */
final class IndexPlanner {
  private IndexPlanner() {}

  /** The candidate positions, or null when no index narrows this filter. */
  static <P> Iterable<P> candidates(List<Index<P>> indexes, Document query) {
    if (query.size() > 1) {
      for (Index<P> index : indexes) {
        if (index instanceof LeadingFieldIndex || index.getKeys().size() != 1) {
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
    }
    Collection<P> best = null;
    for (Index<P> index : indexes) {
      if (index instanceof LeadingFieldIndex<P> secondary) {
        Collection<P> candidates = secondary.candidates(query);
        if (candidates != null && (best == null || candidates.size() < best.size())) {
          best = candidates;
        }
      }
    }
    return best == null ? null : inNaturalOrder(best);
  }

  @SuppressWarnings("unchecked")
  private static <P> Collection<P> inNaturalOrder(Collection<P> positions) {
    for (P position : positions) {
      if (!(position instanceof Integer)) {
        return positions;
      }
    }
    List<Integer> sorted = new ArrayList<>((Collection<Integer>) positions);
    sorted.sort(null);
    return (Collection<P>) sorted;
  }
}
