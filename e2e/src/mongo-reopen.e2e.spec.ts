// The durable MongoDB-wire server (MONGO_STORAGE=disk, ADR 0016) stopped and started on its
// file: every document back, and its indexes (kept on the heap, built again from the documents
// as the file opens) answering and enforcing as before the restart: lookups by _id and by an
// indexed field, and the duplicate-key refusals of _id and of a unique index.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMongo, type MongoConnection } from "@parley/mongo";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, infra } from "./processes.js";

interface Person {
  _id: string;
  email: string;
  group: number;
  version: number;
}

const COUNT = 300;
const indexNames = (indexes: readonly { readonly name?: unknown }[]) =>
  indexes.map((index) => String(index.name));
const idOf = (i: number) => `person-${String(i).padStart(4, "0")}`;

describe("the durable MongoDB-wire server, stopped and started on its file", () => {
  let dir: string;
  let env: Record<string, string>;
  let mongo: MongoConnection | undefined;

  const connect = (port: string) =>
    createMongo({
      url: `mongodb://127.0.0.1:${port}/?directConnection=true&retryWrites=false`,
      database: "reopen",
      appName: "mongo-reopen-spec",
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-mongo-reopen-"));
    const port = String(await freePort());
    env = {
      PARLEY_PROFILE: `mongo-reopen-${port}`,
      PARLEY_STATE_DIR: dir,
      MONGO_PORT: port,
      MONGO_STORAGE: "disk",
    };
    await infra(["start", "mongo"], env);
  }, 360_000);

  afterAll(async () => {
    await mongo?.close();
    await infra(["stop", "mongo"], env).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("keeps every document and index across a stop and start", async () => {
    const port = env["MONGO_PORT"] ?? "";
    mongo = connect(port);
    const people = mongo.db.collection<Person>("people");
    await people.createIndex({ email: 1 }, { unique: true, name: "email_unique" });
    await people.createIndex({ group: 1 }, { name: "by_group" });
    await people.insertMany(
      Array.from({ length: COUNT }, (_, i) => ({
        _id: idOf(i),
        email: `p${String(i)}@example.test`,
        group: i % 7,
        version: 0,
      })),
    );
    // Changes after the inserts: updates (one changing the uniquely indexed field) and deletes.
    await people.updateMany({ group: 3 }, { $inc: { version: 1 } });
    await people.updateOne({ _id: idOf(10) }, { $set: { email: "moved@example.test" } });
    await people.deleteMany({ group: 6 });
    const before = await people.find({}).sort({ _id: 1 }).toArray();
    const indexesBefore = indexNames(await people.listIndexes().toArray());
    await mongo.close();
    mongo = undefined;

    await infra(["stop", "mongo"], env);
    await infra(["start", "mongo"], { ...env, MONGO_KEEP_DATA: "1" });

    mongo = connect(port);
    const again = mongo.db.collection<Person>("people");
    expect(await again.find({}).sort({ _id: 1 }).toArray()).toEqual(before);
    expect(indexNames(await again.listIndexes().toArray())).toEqual(indexesBefore);
    // Lookups through each index, after it was built again from the documents.
    expect(await again.findOne({ _id: idOf(3) })).toMatchObject({ group: 3, version: 1 });
    expect(await again.findOne({ _id: idOf(6) })).toBeNull(); // deleted (group 6)
    expect(await again.findOne({ email: "moved@example.test" })).toMatchObject({ _id: idOf(10) });
    expect(await again.findOne({ email: "p10@example.test" })).toBeNull();
    expect(await again.countDocuments({ group: 2 })).toBe(
      before.filter((p) => p.group === 2).length,
    );
    // The unique indexes still refuse duplicates, and free values are free again.
    await expect(
      again.insertOne({ _id: idOf(1), email: "new@example.test", group: 0, version: 0 }),
    ).rejects.toMatchObject({ code: 11000 });
    await expect(
      again.insertOne({ _id: "someone-new", email: "p1@example.test", group: 0, version: 0 }),
    ).rejects.toMatchObject({ code: 11000 });
    await again.insertOne({ _id: idOf(6), email: "p10@example.test", group: 0, version: 0 });
    expect(await again.countDocuments({})).toBe(before.length + 1);
  }, 360_000);
});
