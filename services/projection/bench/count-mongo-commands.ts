// Preloaded into the projection by the benchmark (`--import` of the built file, with
// BENCH_MONGO_COMMANDS_FILE set): counts the MongoDB commands the process sends, by name, and
// writes them as JSON to that file when the process exits. Command monitoring costs CPU of its
// own, so the benchmark runs it only when asked (BENCH_COUNT_COMMANDS=1), never beside the
// timed figures it reports for the same run.
import { writeFileSync } from "node:fs";
import { MongoClient, type CommandStartedEvent } from "mongodb";

const file = process.env["BENCH_MONGO_COMMANDS_FILE"];
const counts: Record<string, number> = {};
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
    });
  }
  return connect.call(this);
};
if (file !== undefined)
  process.on("exit", () => {
    writeFileSync(file, JSON.stringify(counts));
  });
