import { MongoClient, type Db } from "mongodb";

export interface MongoOptions {
  readonly url: string;
  readonly database: string;
  readonly appName: string;
  readonly serverSelectionTimeoutMs?: number;
  /**
   * Told the name of every command sent (`find`, `insert`, `update`...): the round trips to
   * MongoDB. Turns the driver's command monitoring on, which also builds each reply's document
   * for its event (a little CPU per command; the chassis counts them in every service).
   */
  readonly onCommand?: (commandName: string) => void;
}

export interface MongoConnection {
  readonly client: MongoClient;
  readonly db: Db;
  /** Readiness: a `ping` round trip; the driver reconnects by itself once the server is back. */
  readonly probe: { readonly name: string; check(signal: AbortSignal): Promise<void> };
  serverVersion(): Promise<string>;
  close(): Promise<void>;
}

export function createMongo({
  url,
  database,
  appName,
  serverSelectionTimeoutMs = 2_000,
  onCommand,
}: MongoOptions): MongoConnection {
  const client = new MongoClient(url, {
    appName,
    serverSelectionTimeoutMS: serverSelectionTimeoutMs,
    connectTimeoutMS: 2_000,
    monitorCommands: onCommand !== undefined,
  });
  if (onCommand !== undefined) {
    client.on("commandStarted", (event) => {
      onCommand(event.commandName);
    });
  }
  // No eager connect: a service starts even while MongoDB is down, reports not-ready, and the
  // driver connects on first use once the server answers.
  const db = client.db(database);
  return {
    client,
    db,
    probe: {
      name: "mongodb",
      async check(signal: AbortSignal): Promise<void> {
        signal.throwIfAborted();
        await db.command({ ping: 1 }, { timeoutMS: serverSelectionTimeoutMs });
      },
    },
    async serverVersion(): Promise<string> {
      const info = await db.admin().command({ buildInfo: 1 });
      return typeof info["version"] === "string" ? info["version"] : "unknown";
    },
    close: () => client.close(),
  };
}
