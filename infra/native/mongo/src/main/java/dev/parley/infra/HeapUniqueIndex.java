package dev.parley.infra;

import de.bwaldvogel.mongo.backend.AbstractUniqueIndex;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.Missing;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A unique index (the {@code _id} index among them) of the durable backend, kept on the heap and
 * built again from the documents when the file is opened, as {@link LeadingFieldIndex} is.
 *
 * <p>H2's own unique index keeps its keys in an MVStore map whose key type serialises a {@code
 * KeyValue} with Java serialisation and compares two keys by serialising both: every lookup by
 * {@code _id} paid that at each step of a binary search, and every insert wrote index pages on
 * the commit that follows each message (a profile of the end-to-end bench at 300 sends/s on disk:
 * a quarter of the server's CPU in those comparisons). Here a lookup is a hash lookup, and the
 * file holds only the documents: they are the truth the index is rebuilt from.
 *
 * <p>Positions are stored as H2's index stores them ({@link Missing#ofNullable}), since the
 * collection's data map is keyed that way.
 */
final class HeapUniqueIndex extends AbstractUniqueIndex<Object> {
  private final Map<KeyValue, Object> positions = new ConcurrentHashMap<>();

  HeapUniqueIndex(String name, List<IndexKey> keys, boolean sparse) {
    super(name, keys, sparse);
  }

  @Override
  protected Object removeDocument(KeyValue key) {
    return positions.remove(key);
  }

  @Override
  protected boolean putKeyPosition(KeyValue key, Object position) {
    return positions.putIfAbsent(key, Missing.ofNullable(position)) == null;
  }

  @Override
  protected Object getPosition(KeyValue key) {
    return positions.get(key);
  }

  @Override
  protected Iterable<Map.Entry<KeyValue, Object>> getIterable() {
    return positions.entrySet();
  }

  @Override
  public long getCount() {
    return positions.size();
  }

  @Override
  public boolean isEmpty() {
    return positions.isEmpty();
  }

  @Override
  public long getDataSize() {
    return getCount();
  }
}
