package dev.parley.infra;

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.AbstractMongoBackend;

/**
 * Starts mongo-java-server on a loopback address so that Parley's tests and local stack
 * talk to a MongoDB-wire server without Docker. Usage: MongoWireServer HOST PORT [DATA_FILE].
 * Without DATA_FILE the data lives in memory only; with it, in that H2 MVStore file, committed
 * before each reply, so a stopped or killed server restarts with everything it acknowledged
 * (see {@link DurableBackend} and ADR 0001). The oplog is off unless the system property
 * parley.mongo.oplog is "true": Parley uses no change streams, and this server's oplog is not
 * capped as MongoDB's is, so it would keep a copy of every write for the life of the process
 * (about 1 KB per write, which the JVM's collector then copies again and again).
 * Collections narrow a filter by a single-field index it constrains, and keep the secondary
 * (non-unique, compound) indexes mongo-java-server ignores, narrowing by their first two fields,
 * as MongoDB's planner does (see IndexPlanner and LeadingFieldIndex).
 */
public final class MongoWireServer {
  private MongoWireServer() {}

  public static void main(String[] args) throws InterruptedException {
    if (args.length != 2 && args.length != 3) {
      System.err.println("usage: MongoWireServer HOST PORT [DATA_FILE]");
      System.exit(2);
    }
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    AbstractMongoBackend backend =
        args.length == 3 ? new DurableBackend(args[2]) : new IdPlannedBackend();
    backend.version(ReportedVersion.MONGO_5_0);
    if (Boolean.getBoolean("parley.mongo.oplog")) {
      backend.enableOplog();
    }
    MongoServer server = new MongoServer(backend);
    server.bind(host, port);
    // shutdownNow closes the backend, which commits and closes the store file.
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "mongo-wire-shutdown"));
    System.out.println(
        "mongo-wire-server listening on "
            + host
            + ":"
            + port
            + (args.length == 3 ? " (data in " + args[2] + ")" : " (in memory)"));
    Thread.currentThread().join();
  }
}
