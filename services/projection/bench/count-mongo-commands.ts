// Preloaded into the projection by the benchmark (`--import` of the built file, with
// BENCH_MONGO_COMMANDS_FILE set): counts the MongoDB commands the process sends, by name, the
// documents they write (operations inside bulk writes; updates also by operator) and read back
// (find and getMore batches), by collection kind (the last `_` part of the collection name: requests, messages,
// contacts...), and writes them as JSON to that file when the process exits. Command monitoring
// costs CPU of its own, so the benchmark runs it only when asked (BENCH_COUNT_COMMANDS=1), never
// beside the timed figures it reports for the same run.
import { writeFileSync } from "node:fs";
import {
  MongoClient,
  type CommandStartedEvent,
  type CommandSucceededEvent,
  type Document,
} from "mongodb";

const file = process.env["BENCH_MONGO_COMMANDS_FILE"];
const counts: Record<string, number> = {};
/** `written <kind>` / `read <kind>`: documents per collection kind. */
const documents: Record<string, number> = {};
const kindOf = (collection: unknown) =>
  typeof collection === "string" ? (collection.split("_").at(-1) ?? collection) : "?";
const add = (name: string, n: number) => {
  if (n > 0) documents[name] = (documents[name] ?? 0) + n;
};
const lengthOf = (value: unknown) => (Array.isArray(value) ? value.length : 0);
/** The collection of each command in flight, by request id (a reply does not name it). */
const inFlight = new Map<number, string>();
const watched = new WeakSet<MongoClient>();
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with the client below
const connect = MongoClient.prototype.connect;
MongoClient.prototype.connect = function (this: MongoClient) {
  if (!watched.has(this)) {
    watched.add(this);
    // Read when the connection pool is made, i.e. at the first connect.
    (this as unknown as { monitorCommands: boolean }).monitorCommands = true;
    this.on("commandStarted", (e: CommandStartedEvent) => {
      counts[e.commandName] = (counts[e.commandName] ?? 0) + 1;
      const command: Document = e.command;
      const kind = kindOf(command[e.commandName] ?? command["collection"]);
      const ops =
        lengthOf(command["updates"]) +
        lengthOf(command["documents"]) +
        lengthOf(command["deletes"]);
      add(`written ${kind}`, ops);
      // Updates by their operator (`$max`: a published mark; none: a versioned replace).
      if (Array.isArray(command["updates"]))
        for (const u of command["updates"] as { u: Document }[])
          add(`op ${kind} ${Object.keys(u.u).find((k) => k.startsWith("$")) ?? "replace"}`, 1);
      if (e.commandName === "find" || e.commandName === "getMore") inFlight.set(e.requestId, kind);
    });
    this.on("commandSucceeded", (e: CommandSucceededEvent) => {
      const kind = inFlight.get(e.requestId);
      if (kind === undefined) return;
      inFlight.delete(e.requestId);
      const cursor = (e.reply as { cursor?: { firstBatch?: unknown; nextBatch?: unknown } }).cursor;
      add(`read ${kind}`, lengthOf(cursor?.firstBatch) + lengthOf(cursor?.nextBatch));
    });
  }
  return connect.call(this);
};
if (file !== undefined)
  process.on("exit", () => {
    writeFileSync(file, JSON.stringify({ ...counts, documents }));
  });
