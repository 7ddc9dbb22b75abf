package dev.parley.infra;

import de.bwaldvogel.mongo.backend.AbstractMongoCollection;
import de.bwaldvogel.mongo.backend.ArrayFilters;
import de.bwaldvogel.mongo.backend.QueryMatcher;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.MongoServerError;
import de.bwaldvogel.mongo.oplog.Oplog;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The update command's loop over the matched documents, as mongo-java-server 1.47.0 runs it
 * ({@code AbstractMongoCollection.updateDocuments}), with the same per-document update and upsert
 * (its own private methods, called through method handles), less two costs its outcome does not
 * need. In the end-to-end outbound benchmark they were about a third of the server's update
 * time (docs/benchmarks.md, 2026-12-07 evening, a JFR profile):
 *
 * <ul>
 *   <li>whether a document changed is told by comparing its copy from before the update with it
 *       ({@link Document#equals}, as the per-document update itself decides whether to write),
 *       not by first normalising both whole documents into new maps;
 *   <li>the matched document is matched against the filter a second time, to find the array
 *       element a positional {@code $} path refers to, only when the update has such a path.
 * </ul>
 *
 * Everything else is as mongo-java-server does it: the multi-update check, the upsert, the oplog
 * calls and the reply's {@code n}, {@code nModified} and {@code upserted}.
 */
final class LeanUpdates {
  private static final MethodHandle UPDATE_ONE;
  private static final MethodHandle UPSERT;

  static {
    try {
      MethodHandles.Lookup lookup =
          MethodHandles.privateLookupIn(AbstractMongoCollection.class, MethodHandles.lookup());
      UPDATE_ONE =
          lookup.findVirtual(
              AbstractMongoCollection.class,
              "updateDocument",
              MethodType.methodType(
                  Document.class, Document.class, Document.class, ArrayFilters.class, Integer.class));
      UPSERT =
          lookup.findVirtual(
              AbstractMongoCollection.class,
              "handleUpsert",
              MethodType.methodType(
                  Document.class, Document.class, Document.class, ArrayFilters.class));
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private LeanUpdates() {}

  /**
   * Updates what {@code matching} finds for {@code selector}; call it holding the collection's
   * lock, as the synchronized collection's own {@code updateDocuments} does.
   */
  static Document update(
      AbstractMongoCollection<?> collection,
      Function<Document, Iterable<Document>> matching,
      QueryMatcher matcher,
      String idField,
      Document selector,
      Document update,
      ArrayFilters arrayFilters,
      boolean isMulti,
      boolean isUpsert,
      Oplog oplog) {
    if (isMulti) {
      for (String key : update.keySet()) {
        if (!key.startsWith("$")) {
          throw new MongoServerError(10158, "multi update only works with $ operators");
        }
      }
    }
    boolean positional = hasPositionalPath(update);
    int matched = 0;
    List<Object> modified = new ArrayList<>();
    for (Document document : matching.apply(selector)) {
      Integer position = positional ? matcher.matchPosition(document, selector) : null;
      Document before = (Document) call(UPDATE_ONE, collection, document, update, arrayFilters, position);
      if (!before.equals(document)) {
        modified.add(document.get(idField));
      }
      matched++;
      if (!isMulti) {
        break;
      }
    }
    Document result = new Document();
    if (matched == 0 && isUpsert) {
      Document inserted = (Document) call(UPSERT, collection, update, selector, arrayFilters, null);
      result.put("upserted", inserted.get(idField));
      oplog.handleInsert(collection.getFullName(), List.of(inserted));
    } else {
      oplog.handleUpdate(collection.getFullName(), selector, update, modified);
    }
    result.put("n", Integer.valueOf(matched));
    result.put("nModified", Integer.valueOf(modified.size()));
    return result;
  }

  /** An operator's path with a {@code $} segment ({@code a.$.b}, {@code a.$[]}, {@code a.$[x]}). */
  static boolean hasPositionalPath(Document update) {
    for (String operator : update.keySet()) {
      if (!operator.startsWith("$")) {
        return false; // a replacement: no paths
      }
      Object fields = update.get(operator);
      if (fields instanceof Document) {
        for (String path : ((Document) fields).keySet()) {
          if (path.contains(".$") || path.startsWith("$")) {
            return true;
          }
        }
      }
    }
    return false;
  }

  private static Object call(
      MethodHandle handle,
      AbstractMongoCollection<?> collection,
      Document a,
      Document b,
      ArrayFilters filters,
      Integer position) {
    try {
      return handle == UPSERT
          ? handle.invoke(collection, a, b, filters)
          : handle.invoke(collection, a, b, filters, position);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }
}
