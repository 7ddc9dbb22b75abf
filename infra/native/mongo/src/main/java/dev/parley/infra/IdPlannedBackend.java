package dev.parley.infra;

import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.backend.memory.MemoryCollection;
import de.bwaldvogel.mongo.backend.memory.MemoryDatabase;
import java.util.List;

/**
 * The in-memory backend, with collections that plan by index (see {@link IdPlannedCollection})
 * and secondary indexes that exist (see {@link LeadingFieldIndex}).
 */
final class IdPlannedBackend extends MemoryBackend {
  @Override
  public MemoryDatabase openOrCreateDatabase(String name) {
    return new Database(name, getCursorRegistry());
  }

  private static final class Database extends MemoryDatabase {
    private final CursorRegistry cursors;

    Database(String name, CursorRegistry cursors) {
      super(name, cursors);
      this.cursors = cursors;
    }

    @Override
    protected MemoryCollection openOrCreateCollection(String name, CollectionOptions options) {
      return new IdPlannedCollection(this, name, options, cursors);
    }

    @Override
    protected Index<Integer> openOrCreateSecondaryIndex(
        String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
      return new LeadingFieldIndex<>(indexName, keys);
    }
  }
}
