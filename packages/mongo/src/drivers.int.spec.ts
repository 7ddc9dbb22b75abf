import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { startStack, type Stack } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMongo } from "./index.js";

// The drivers analytics users reach for first talk to the MongoDB-wire server `make dev` and
// the tests run (issue 19): the Node driver Parley uses, and PyMongo's current release. PyMongo
// is installed from PyPI into a virtualenv under ~/.cache/parley/tools on the first run.
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await stack.stop();
});

function pymongo(): string {
  const cache = process.env["PARLEY_CACHE"] ?? join(homedir(), ".cache", "parley");
  const venv = join(cache, "tools", "pymongo");
  const python = join(venv, "bin", "python");
  if (!existsSync(python)) {
    mkdirSync(join(cache, "tools"), { recursive: true });
    execFileSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
    execFileSync(python, ["-m", "pip", "install", "--quiet", "pymongo"], { stdio: "inherit" });
  }
  return python;
}

describe("drivers against the MongoDB-wire server", () => {
  it("the Node driver: a wire version current drivers accept, and reads and writes", async () => {
    const ns = stack.namespace("drivers");
    const mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
    try {
      const hello = await mongo.db.admin().command({ isMaster: 1 });
      expect(hello["maxWireVersion"]).toBeGreaterThanOrEqual(9);
      await mongo.db.collection("docs").insertOne({ _id: "a" as never, n: 1 });
      await mongo.db
        .collection("docs")
        .bulkWrite([{ updateOne: { filter: { _id: "a" as never }, update: { $inc: { n: 1 } } } }]);
      expect(await mongo.db.collection("docs").findOne({})).toEqual({ _id: "a", n: 2 });
      await mongo.db.dropDatabase();
    } finally {
      await mongo.close();
    }
  });

  it("PyMongo, current release: connects, writes, reads, aggregates", () => {
    const python = pymongo();
    const script = [
      "import sys, pymongo",
      "client = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=10000)",
      "db = client[sys.argv[2]]",
      "db.docs.insert_one({'_id': 'a', 'n': 1})",
      "db.docs.update_one({'_id': 'a'}, {'$inc': {'n': 1}})",
      "assert db.docs.find_one({'_id': 'a'}) == {'_id': 'a', 'n': 2}",
      "assert list(db.docs.aggregate([{'$match': {'n': 2}}, {'$count': 'c'}])) == [{'c': 1}]",
      "client.drop_database(sys.argv[2])",
      "print(pymongo.version, client.server_info()['version'])",
    ].join("\n");
    const database = stack.namespace("pymongo").database();
    const out = execFileSync(python, ["-c", script, stack.mongoUrl, database], {
      encoding: "utf8",
      timeout: 60_000,
    });
    console.log(`[drivers] PyMongo ${out.trim()}`);
    expect(out).toMatch(/^4\.\d+/);
  }, 180_000);
});
