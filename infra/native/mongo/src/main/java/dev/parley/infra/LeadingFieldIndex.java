package dev.parley.infra;

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.bson.ObjectId;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A secondary (non-unique) index, which mongo-java-server does not implement (it keeps an empty
 * placeholder and scans the whole collection): it maps the values of the index's leading field
 * to the positions of the documents holding them, so a filter that constrains that field by
 * equality, {@code $eq} or {@code $in} reads only those documents, as MongoDB's planner reads a
 * compound index's leading field. The caller still matches every candidate against the full
 * filter, so results are those of the scan; only the cost changes.
 *
 * <p>The candidates are a superset of the matches by construction: a value of a type the index
 * does not key exactly (a sub-document, an array as a whole, a binary, null...) goes to one
 * catch-all bucket that every lookup includes, array elements are keyed one by one (nested ones
 * too), and numbers are keyed by their double value (so 1, 1L and 1.0 share a key). A filter
 * value the index cannot key (null, a regular expression, a sub-document...) is not narrowed.
 * Only a top-level (undotted) leading field is indexed; a dotted one never narrows.
 *
 * <p>mongo-java-server asks an index for a document's position only by the document: positions
 * are found again by {@code _id}. A document without {@code _id} turns the index off (it then
 * never narrows). It reports itself sparse as the placeholder did, so that it never has to name
 * a position it does not hold.
 */
final class LeadingFieldIndex<P> extends Index<P> {
  /** The bucket of values keyed by no exact key: included in every lookup. */
  private static final Object OTHER = new Object();

  private final String field;
  private final Map<Object, Set<P>> positionsByKey = new HashMap<>();
  private final Map<Object, Entry<P>> entriesById = new HashMap<>();
  private boolean disabled;

  private record Entry<P>(P position, Set<Object> keys) {}

  LeadingFieldIndex(String name, List<IndexKey> keys) {
    super(name, keys, true);
    this.field = keys.get(0).getKey();
    this.disabled = field.contains(".") || field.startsWith("$");
  }

  String field() {
    return field;
  }

  /** The exact key of a value, or null when the value has none (it goes to OTHER). */
  private static Object exactKey(Object value) {
    if (value instanceof String || value instanceof Boolean || value instanceof ObjectId) {
      return value;
    }
    if (value instanceof Number number) {
      double d = number.doubleValue();
      return d == 0.0 ? Double.valueOf(0.0) : Double.valueOf(d);
    }
    if (value instanceof Instant) {
      return value;
    }
    if (value instanceof Date date) {
      return date.toInstant();
    }
    return null;
  }

  private static void collectKeys(Object value, Set<Object> into) {
    if (value instanceof Collection<?> values) {
      into.add(OTHER);
      for (Object element : values) {
        collectKeys(element, into);
      }
      return;
    }
    Object key = exactKey(value);
    into.add(key == null ? OTHER : key);
  }

  private Set<Object> keysOf(Document document) {
    Set<Object> keys = new HashSet<>();
    if (document.containsKey(field)) {
      collectKeys(document.get(field), keys);
    }
    return keys;
  }

  private static Object idOf(Document document) {
    if (!document.containsKey("_id")) {
      return null;
    }
    Object id = document.get("_id");
    if (id == null) {
      return OTHER;
    }
    // As the _id index keys it: a long a double cannot hold stays a long.
    if (id instanceof Long l && l.longValue() != (long) l.doubleValue()) {
      return l;
    }
    Object key = exactKey(id);
    return key == null ? id : key;
  }

  /**
   * The keys a filter's value for the leading field allows (a document can match only if it
   * holds one of them, or a value in OTHER), or null when the filter cannot be narrowed so.
   */
  static List<Object> queriedKeys(Object filterValue) {
    if (filterValue instanceof Document operators) {
      if (operators.isEmpty()) {
        return null;
      }
      for (String operator : operators.keySet()) {
        if (!operator.startsWith("$")) {
          return null; // equality with a sub-document: not keyed
        }
      }
      if (operators.containsKey("$eq")) {
        Object key = exactKey(operators.get("$eq"));
        return key == null ? null : List.of(key);
      }
      if (operators.get("$in") instanceof Collection<?> values) {
        List<Object> keys = new ArrayList<>(values.size());
        for (Object value : values) {
          Object key = exactKey(value);
          if (key == null) {
            return null;
          }
          keys.add(key);
        }
        return keys;
      }
      return null;
    }
    Object key = exactKey(filterValue);
    return key == null ? null : List.of(key);
  }

  /** The candidate positions for a filter, or null when this index does not narrow it. */
  synchronized Collection<P> candidates(Document query) {
    if (disabled || !query.containsKey(field)) {
      return null;
    }
    List<Object> keys = queriedKeys(query.get(field));
    if (keys == null) {
      return null;
    }
    Set<P> positions = new LinkedHashSet<>();
    for (Object key : keys) {
      Set<P> bucket = positionsByKey.get(key);
      if (bucket != null) {
        positions.addAll(bucket);
      }
    }
    Set<P> other = positionsByKey.get(OTHER);
    if (other != null) {
      positions.addAll(other);
    }
    return positions;
  }

  private void put(Object id, P position, Set<Object> keys) {
    entriesById.put(id, new Entry<>(position, keys));
    for (Object key : keys) {
      positionsByKey.computeIfAbsent(key, k -> new LinkedHashSet<>()).add(position);
    }
  }

  private Entry<P> take(Object id) {
    Entry<P> entry = entriesById.remove(id);
    if (entry != null) {
      for (Object key : entry.keys()) {
        Set<P> bucket = positionsByKey.get(key);
        if (bucket != null) {
          bucket.remove(entry.position());
          if (bucket.isEmpty()) {
            positionsByKey.remove(key);
          }
        }
      }
    }
    return entry;
  }

  @Override
  public synchronized void add(Document document, P position, MongoCollection<P> collection) {
    if (disabled) {
      return;
    }
    Object id = idOf(document);
    if (id == null) {
      disable();
      return;
    }
    take(id);
    put(id, position, keysOf(document));
  }

  @Override
  public synchronized P remove(Document document) {
    if (!disabled) {
      Object id = idOf(document);
      if (id == null) {
        disable();
      } else {
        take(id);
      }
    }
    return null; // sparse: the collection takes the position from its _id index
  }

  @Override
  public synchronized void updateInPlace(
      Document oldDocument, Document newDocument, P position, MongoCollection<P> collection) {
    if (disabled) {
      return;
    }
    Object oldId = idOf(oldDocument);
    Object newId = idOf(newDocument);
    if (oldId == null || newId == null) {
      disable();
      return;
    }
    take(oldId);
    put(newId, position, keysOf(newDocument));
  }

  private void disable() {
    disabled = true;
    positionsByKey.clear();
    entriesById.clear();
  }

  @Override
  public P getPosition(Document document) {
    return null;
  }

  @Override
  public void checkAdd(Document document, MongoCollection<P> collection) {}

  @Override
  public void checkUpdate(
      Document oldDocument, Document newDocument, MongoCollection<P> collection) {}

  /** Never chosen by mongo-java-server's own planner: {@link IndexPlanner} asks it. */
  @Override
  public boolean canHandle(Document query) {
    return false;
  }

  @Override
  public Iterable<P> getPositions(Document query) {
    throw new UnsupportedOperationException("planned by IndexPlanner");
  }

  @Override
  public synchronized long getCount() {
    return entriesById.size();
  }

  @Override
  public long getDataSize() {
    return 0;
  }

  @Override
  public synchronized void drop() {
    positionsByKey.clear();
    entriesById.clear();
  }
}
