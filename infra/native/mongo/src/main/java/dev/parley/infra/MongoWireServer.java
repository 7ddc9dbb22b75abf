package dev.parley.infra;

import de.bwaldvogel.mongo.MongoServer;

/**
 * Starts mongo-java-server on a loopback address so that Parley's tests and local stack
 * talk to a MongoDB-wire server without Docker. Usage: MongoWireServer HOST PORT.
 * Data lives in memory only (see ADR 0001). The oplog is off unless the system property
 * parley.mongo.oplog is "true": Parley uses no change streams, and this server's oplog is not
 * capped as MongoDB's is, so it would keep a copy of every write for the life of the process
 * (about 1 KB per write, which the JVM's collector then copies again and again).
 * Collections narrow a filter by a single-field index it constrains, as MongoDB's planner does
 * (see IdPlannedCollection).
 */
public final class MongoWireServer {
  private MongoWireServer() {}

  public static void main(String[] args) throws InterruptedException {
    if (args.length != 2) {
      System.err.println("usage: MongoWireServer HOST PORT");
      System.exit(2);
    }
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    IdPlannedBackend backend = new IdPlannedBackend();
    backend.version(ReportedVersion.MONGO_5_0);
    if (Boolean.getBoolean("parley.mongo.oplog")) {
      backend.enableOplog();
    }
    MongoServer server = new MongoServer(backend);
    server.bind(host, port);
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "mongo-wire-shutdown"));
    System.out.println("mongo-wire-server listening on " + host + ":" + port);
    Thread.currentThread().join();
  }
}
