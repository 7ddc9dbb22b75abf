package dev.parley.infra;

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.ServerVersion;

/**
 * Starts mongo-java-server on a loopback address so that Parley's tests and local stack
 * talk to a MongoDB-wire server without Docker. Usage: MongoWireServer HOST PORT.
 * The oplog is enabled so change streams work; data lives in memory only (see ADR 0001).
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
    backend.version(ServerVersion.MONGO_5_0);
    backend.enableOplog();
    MongoServer server = new MongoServer(backend);
    server.bind(host, port);
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "mongo-wire-shutdown"));
    System.out.println("mongo-wire-server listening on " + host + ":" + port);
    Thread.currentThread().join();
  }
}
