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
import java.util.SortedMap;
import java.util.TreeMap;

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
 * too), and numbers are keyed by their double value (so 1, 1L and 1.0 share a key; a long a
 * double would round, a Decimal128, go to the catch-all). A filter
 * value the index cannot key (null, a regular expression, a sub-document...) is not narrowed.
 * Only a top-level (undotted) leading field is indexed; a dotted one never narrows.
 *
 * <p>A compound index also narrows by its second field within each leading value: equality,
 * {@code $eq} or {@code $in} by key, a range ({@code $gt}, {@code $gte}, {@code $lt},
 * {@code $lte}) whose bounds are all dates, or all numbers, through an ordered map; documents
 * whose second field is not one such value (an array, a string for a date range, missing...)
 * are always candidates. So {@code {number: n, calledAt: {$gt: t}}} on {@code (number,
 * calledAt)} reads the calls since t, not every call of the number.
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
  /** The second field of a compound index (top-level), or null. */
  private final String second;
  private final Map<Object, Bucket<P>> buckets = new HashMap<>();
  private final Map<Object, Entry<P>> entriesById = new HashMap<>();
  private boolean disabled;

  /** A document's place: its position, leading keys and second-field key (null: loose). */
  private record Entry<P>(P position, Set<Object> keys, Object secondKey) {}

  /** The documents of one leading key, by their second field's key. */
  private static final class Bucket<P> {
    final Set<P> all = new LinkedHashSet<>();
    final Map<Object, Set<P>> exact = new HashMap<>();
    final TreeMap<Instant, Set<P>> dates = new TreeMap<>();
    final TreeMap<Double, Set<P>> numbers = new TreeMap<>();
    /** Second field not a single keyed value: a candidate for every second-field filter. */
    final Set<P> loose = new LinkedHashSet<>();
    final Set<P> notDates = new LinkedHashSet<>();
    final Set<P> notNumbers = new LinkedHashSet<>();

    void add(P position, Object secondKey) {
      all.add(position);
      if (secondKey == null) {
        loose.add(position);
      } else {
        exact.computeIfAbsent(secondKey, k -> new LinkedHashSet<>()).add(position);
      }
      if (secondKey instanceof Instant instant) {
        dates.computeIfAbsent(instant, k -> new LinkedHashSet<>()).add(position);
      } else {
        notDates.add(position);
      }
      if (secondKey instanceof Double number && !number.isNaN()) {
        numbers.computeIfAbsent(number, k -> new LinkedHashSet<>()).add(position);
      } else {
        notNumbers.add(position);
      }
    }

    void remove(P position, Object secondKey) {
      all.remove(position);
      loose.remove(position);
      notDates.remove(position);
      notNumbers.remove(position);
      if (secondKey != null) {
        removeFrom(exact, secondKey, position);
        removeFrom(dates, secondKey, position);
        removeFrom(numbers, secondKey, position);
      }
    }

    private static <K, P> void removeFrom(Map<K, Set<P>> map, Object key, P position) {
      @SuppressWarnings("unchecked")
      Map<Object, Set<P>> byKey = (Map<Object, Set<P>>) map;
      if (map instanceof TreeMap && !(key instanceof Comparable)) {
        return;
      }
      Set<P> set;
      try {
        set = byKey.get(key);
      } catch (ClassCastException e) {
        return; // a date looked up among numbers, or the reverse
      }
      if (set != null) {
        set.remove(position);
        if (set.isEmpty()) {
          byKey.remove(key);
        }
      }
    }
  }

  LeadingFieldIndex(String name, List<IndexKey> keys) {
    super(name, keys, true);
    this.field = keys.get(0).getKey();
    this.disabled = field.contains(".") || field.startsWith("$");
    String next = keys.size() > 1 ? keys.get(1).getKey() : null;
    this.second = next == null || next.contains(".") || next.startsWith("$") ? null : next;
  }

  /** The exact key of a value, or null when the value has none (it goes to OTHER). */
  private static Object exactKey(Object value) {
    if (value instanceof String || value instanceof Boolean || value instanceof ObjectId) {
      return value;
    }
    if (value instanceof Long l && l.longValue() != (long) l.doubleValue()) {
      return null; // a double would round it: compared exactly, it has no exact key here
    }
    if (value instanceof Integer
        || value instanceof Long
        || value instanceof Double
        || value instanceof Float
        || value instanceof Short
        || value instanceof Byte) {
      double d = ((Number) value).doubleValue();
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

  /** The second field's key, or null when it is not a single keyed value. */
  private Object secondKeyOf(Document document) {
    if (second == null || !document.containsKey(second)) {
      return null;
    }
    return exactKey(document.get(second));
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
    Object secondFilter = second == null ? null : query.get(second);
    List<Object> secondKeys = second == null ? null : queriedKeys(secondFilter);
    Range range = secondKeys == null && secondFilter instanceof Document ops ? Range.of(ops) : null;
    Set<P> positions = new LinkedHashSet<>();
    for (Object key : new LinkedHashSet<>(keys)) {
      addFrom(buckets.get(key), secondKeys, range, positions);
    }
    addFrom(buckets.get(OTHER), secondKeys, range, positions);
    return positions;
  }

  private static <P> void addFrom(
      Bucket<P> bucket, List<Object> secondKeys, Range range, Set<P> into) {
    if (bucket == null) {
      return;
    }
    if (secondKeys != null) {
      for (Object key : secondKeys) {
        Set<P> set = bucket.exact.get(key);
        if (set != null) {
          into.addAll(set);
        }
      }
      into.addAll(bucket.loose);
    } else if (range != null && range.low() instanceof Instant || range != null && range.high() instanceof Instant) {
      range.slice(bucket.dates).values().forEach(into::addAll);
      into.addAll(bucket.notDates);
    } else if (range != null) {
      range.slice(bucket.numbers).values().forEach(into::addAll);
      into.addAll(bucket.notNumbers);
    } else {
      into.addAll(bucket.all);
    }
  }

  /**
   * The bounds of a second-field filter's range operators, all dates or all numbers (NaN
   * excluded); null when there are none or they mix types. Other operators are conjuncts the
   * matcher checks; they do not widen the range.
   */
  private record Range(Object low, boolean lowInclusive, Object high, boolean highInclusive) {
    static Range of(Document operators) {
      Object low = null;
      Object high = null;
      boolean lowInclusive = false;
      boolean highInclusive = false;
      Class<?> type = null;
      for (Map.Entry<String, Object> op : operators.entrySet()) {
        String name = op.getKey();
        boolean lower = name.equals("$gt") || name.equals("$gte");
        boolean upper = name.equals("$lt") || name.equals("$lte");
        if (!lower && !upper) {
          if (!name.startsWith("$")) {
            return null;
          }
          continue;
        }
        Object bound = exactKey(op.getValue());
        if (!(bound instanceof Instant) && !(bound instanceof Double d && !d.isNaN())) {
          return null;
        }
        if (type != null && type != bound.getClass()) {
          return null;
        }
        type = bound.getClass();
        @SuppressWarnings({"unchecked", "rawtypes"})
        Comparable<Object> comparable = (Comparable) bound;
        if (lower && (low == null || comparable.compareTo(low) > 0)) {
          low = bound;
          lowInclusive = name.equals("$gte");
        } else if (lower && comparable.compareTo(low) == 0) {
          lowInclusive = lowInclusive && name.equals("$gte");
        }
        if (upper && (high == null || comparable.compareTo(high) < 0)) {
          high = bound;
          highInclusive = name.equals("$lte");
        } else if (upper && comparable.compareTo(high) == 0) {
          highInclusive = highInclusive && name.equals("$lte");
        }
      }
      return type == null ? null : new Range(low, lowInclusive, high, highInclusive);
    }

    @SuppressWarnings("unchecked")
    <K, V> SortedMap<K, V> slice(TreeMap<K, V> map) {
      K lo = (K) low;
      K hi = (K) high;
      if (lo != null && hi != null) {
        if (((Comparable<Object>) lo).compareTo(hi) > 0) {
          return new TreeMap<>();
        }
        return map.subMap(lo, lowInclusive, hi, highInclusive);
      }
      if (lo != null) {
        return map.tailMap(lo, lowInclusive);
      }
      return map.headMap(hi, highInclusive);
    }
  }

  private void put(Object id, P position, Set<Object> keys, Object secondKey) {
    entriesById.put(id, new Entry<>(position, keys, secondKey));
    for (Object key : keys) {
      buckets.computeIfAbsent(key, k -> new Bucket<>()).add(position, secondKey);
    }
  }

  private Entry<P> take(Object id) {
    Entry<P> entry = entriesById.remove(id);
    if (entry != null) {
      for (Object key : entry.keys()) {
        Bucket<P> bucket = buckets.get(key);
        if (bucket != null) {
          bucket.remove(entry.position(), entry.secondKey());
          if (bucket.all.isEmpty()) {
            buckets.remove(key);
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
    put(id, position, keysOf(document), secondKeyOf(document));
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
    put(newId, position, keysOf(newDocument), secondKeyOf(newDocument));
  }

  private void disable() {
    disabled = true;
    buckets.clear();
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
    buckets.clear();
    entriesById.clear();
  }
}
