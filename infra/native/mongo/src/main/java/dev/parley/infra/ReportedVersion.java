package dev.parley.infra;

import de.bwaldvogel.mongo.MongoVersion;
import java.util.List;

/**
 * The version this server reports: MongoDB 5.0.0 with 5.0's wire version, 13. mongo-java-server
 * pairs its 5.0 with wire version 8 (MongoDB 4.2), which current drivers refuse (PyMongo 4.20
 * needs at least 9, MongoDB 4.4) although buildInfo says 5.0.0. The commands Parley and the
 * drivers use are the same at both wire versions; packages/mongo/src/drivers.int.spec.ts checks the
 * Node driver and PyMongo against it.
 */
final class ReportedVersion implements MongoVersion {
  static final ReportedVersion MONGO_5_0 = new ReportedVersion();

  private ReportedVersion() {}

  @Override
  public List<Integer> getVersionArray() {
    return List.of(5, 0, 0);
  }

  @Override
  public int getWireVersion() {
    return 13;
  }
}
