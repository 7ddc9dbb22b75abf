import { MongoClient, type Db, type MongoClientOptions } from "mongodb";

export interface MongoOptions {
  readonly url: string;
  readonly database: string;
  readonly appName: string;
  readonly serverSelectionTimeoutMs?: number;
  /**
   * The driver's connect timeout, which is also how long its monitor waits for a heartbeat's
   * answer (10 s). A heartbeat that times out clears the connection pool and interrupts every
   * operation in flight, so a short value turns a busy server (a GC pause, a backlog after an
   * outage) into failed writes and retries that load it more: with 2 s, the chaos run's
   * projection saw its pool cleared 1,549 times while MongoDB worked off its backlog (issue 26).
   * A refused connection (server down) fails at once whatever the value.
   */
  readonly connectTimeoutMs?: number;
  /**
   * Told the name of every command sent (`find`, `insert`, `update`...): the round trips to
   * MongoDB. Turns the driver's command monitoring on, which also builds each reply's document
   * for its event (a little CPU per command; the chassis counts them in every service).
   */
  readonly onCommand?: (commandName: string) => void;
  /** Credentials given apart from the URL (so the password can come from a secret file). */
  readonly auth?:
    | { readonly username: string; readonly password: string; readonly source?: string | undefined }
    | undefined;
  /** TLS: `true` with Node's public roots, or a CA bundle and an optional client certificate (mTLS). */
  readonly tls?:
    | boolean
    | {
        readonly ca?: string | undefined;
        readonly cert?: string | undefined;
        readonly key?: string | undefined;
      }
    | undefined;
}

/** The driver's auth and TLS options from ours (the URL's own options apply when these are absent). */
export function mongoSecurityOptions({
  auth,
  tls,
}: Pick<MongoOptions, "auth" | "tls">): MongoClientOptions {
  const options: MongoClientOptions = {};
  if (auth !== undefined) {
    options.auth = { username: auth.username, password: auth.password };
    if (auth.source !== undefined) options.authSource = auth.source;
  }
  if (tls === true) options.tls = true;
  if (typeof tls === "object") {
    if ((tls.cert === undefined) !== (tls.key === undefined))
      throw new RangeError("createMongo: tls.cert and tls.key go together (mTLS), or neither");
    options.tls = true;
    if (tls.ca !== undefined) options.ca = tls.ca;
    if (tls.cert !== undefined) options.cert = tls.cert;
    if (tls.key !== undefined) options.key = tls.key;
  }
  return options;
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
  connectTimeoutMs = 10_000,
  auth,
  tls,
  onCommand,
}: MongoOptions): MongoConnection {
  const client = new MongoClient(url, {
    ...mongoSecurityOptions({ auth, tls }),
    appName,
    serverSelectionTimeoutMS: serverSelectionTimeoutMs,
    connectTimeoutMS: connectTimeoutMs,
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
  // But the driver's first connect, when it fails (MongoDB down as the service starts), closes
  // the topology it made and keeps it: every later operation then fails with "Topology is
  // closed", forever, even once the server is back (mongodb 6.22; seen in the chaos run, issue
  // 26: a router started during a MongoDB outage never recovered). Connecting again replaces that
  // topology, so a topology we did not close is reopened, a second apart, until it connects.
  let closing = false;
  let reopening = false;
  const reopen = (): void => {
    if (closing || reopening) return;
    reopening = true;
    setTimeout(() => {
      client
        .connect()
        .catch(() => undefined)
        .finally(() => {
          reopening = false;
        });
    }, 1_000).unref();
  };
  client.on("topologyClosed", reopen);
  return {
    client,
    db,
    probe: {
      name: "mongodb",
      async check(signal: AbortSignal): Promise<void> {
        signal.throwIfAborted();
        try {
          await db.command({ ping: 1 }, { timeoutMS: serverSelectionTimeoutMs });
        } catch (error) {
          if (error instanceof Error && error.name === "MongoTopologyClosedError") reopen();
          throw error;
        }
      },
    },
    async serverVersion(): Promise<string> {
      const info = await db.admin().command({ buildInfo: 1 });
      return typeof info["version"] === "string" ? info["version"] : "unknown";
    },
    close: () => {
      closing = true;
      return client.close();
    },
  };
}

const UNTRUSTED = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
]);

/**
 * Why MongoDB cannot be used when a retry will not help, naming the setting to fix: the server
 * refused the credentials, or its certificate is not trusted. Undefined for an outage.
 */
export function mongoAccessProblem(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== null && typeof current === "object" && !seen.has(current)) {
    seen.add(current);
    const e = current as Record<string, unknown>;
    if (e["code"] === 18 || e["codeName"] === "AuthenticationFailed")
      return "MONGO_USERNAME, MONGO_PASSWORD: the server refused them (AuthenticationFailed); check the pair and MONGO_AUTH_SOURCE";
    if (typeof e["code"] === "string" && UNTRUSTED.has(e["code"]))
      return `MONGO_TLS_CA: the server's certificate is not trusted (${e["code"]}); give the CA bundle that signed it (MONGO_TLS_CA_FILE=/path/to/ca.pem)`;
    // Server selection failures keep the last connection error in `reason`'s servers.
    const reason = e["reason"] as { servers?: Map<string, { error?: unknown }> } | undefined;
    const fromServer =
      reason?.servers instanceof Map ? [...reason.servers.values()][0]?.error : undefined;
    current = e["cause"] ?? fromServer;
  }
  return undefined;
}
