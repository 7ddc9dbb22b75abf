package dev.parley.infra;

/**
 * Whether collections keep a running total of their documents' BSON size (what {@code
 * collStats} and {@code validate} report as the data size). mongo-java-server keeps it by
 * encoding every document it inserts or deletes, and both the old and the new version of every
 * document it updates, to BSON just to measure it: 13 % of the server's CPU in the end-to-end
 * outbound benchmark (docs/benchmarks.md, 2026-12-07, a JFR profile). Parley reads no data size,
 * so it is off unless the system property {@code parley.mongo.dataSize} is "true" (the reported
 * size then stays 0).
 */
final class DataSize {
  static final boolean TRACKED = Boolean.getBoolean("parley.mongo.dataSize");

  private DataSize() {}
}
