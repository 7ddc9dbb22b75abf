import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createMongo, type MongoConnection } from "@parley/mongo";
import { startStack, type Stack } from "@parley/testkit";
import fc from "fast-check";
import type { Db } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createKeyWrapper,
  openSeal,
  sealFor,
  UnknownMasterKeyError,
  type MasterKey,
} from "../../crypto/keys.js";
import { countDataKeys, createKeyStore, rewrapDataKeys } from "./key-store.js";

// Issue 23: a master key is rotated by re-wrapping the per-contact data keys it wraps. The data
// keys keep their ids and bytes, so the evidence they sealed (in MongoDB and on the consent
// topic) opens with only the new master key; destroyed keys stay destroyed; an id that is not
// configured is a clear error. Against the shared MongoDB.

const master = (id: string): MasterKey => ({ id, key: randomBytes(32) });
const A = master("m-2025");
const B = master("m-2026");

let stack: Stack;
let mongo: MongoConnection;
let db: Db;
let dbName = "";
beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("consent-rewrap");
  dbName = ns.database();
  mongo = createMongo({ url: stack.mongoUrl, database: dbName, appName: ns.id });
  db = mongo.db;
}, 60_000);
afterAll(async () => {
  await db.dropDatabase().catch(() => undefined);
  await mongo.close();
  await stack.stop();
});

let collections = 0;
const fresh = () => `consent_keys_${String(++collections)}`;

/** Keys for `contacts` under `wrapper`, with one sealed value per contact to open later. */
async function seed(collection: string, contacts: readonly string[]) {
  const store = createKeyStore({ db, wrapper: createKeyWrapper([A]), collection });
  const created = await store.create(contacts);
  const seals = new Map<string, ReturnType<typeof sealFor>["sealed"]>();
  for (const [contact, record] of created) {
    if (record.status !== "active") throw new Error("expected a live key");
    seals.set(contact, sealFor(record.key, `e-${contact}`, `evidence of ${contact}`).sealed);
  }
  return { store, seals };
}

describe("re-wrapping consent data keys to a new master key", () => {
  it("moves every live key, leaves destroyed ones destroyed, and what was sealed opens with the new master key alone", async () => {
    const collection = fresh();
    const contacts = Array.from({ length: 30 }, (_, i) => `1650555${String(1000 + i)}`);
    const { store, seals } = await seed(collection, contacts);
    const erased = contacts.slice(0, 4);
    for (const c of erased) await store.destroy(c, new Date());

    const rotated = createKeyWrapper([B, A]);
    expect(await rewrapDataKeys({ db, wrapper: rotated, from: A.id, batch: 7, collection })).toBe(
      26,
    );
    expect(await countDataKeys(db, collection)).toEqual({
      byMasterKey: { [B.id]: 26 },
      destroyed: 4,
    });
    // Again: nothing left to move.
    expect(await rewrapDataKeys({ db, wrapper: rotated, from: A.id, collection })).toBe(0);

    // The old master key removed from the configuration: everything still opens.
    const onlyNew = createKeyStore({ db, wrapper: createKeyWrapper([B]), collection });
    const records = await onlyNew.get(contacts);
    for (const c of contacts) {
      const record = records.get(c);
      if (erased.includes(c)) {
        expect(record?.status).toBe("destroyed");
        continue;
      }
      if (record?.status !== "active") throw new Error(`no live key for ${c}`);
      const sealed = seals.get(c);
      if (sealed === undefined) throw new Error("no seal");
      expect(record.key.keyId).toBe(sealed.keyId);
      expect(openSeal(record.key, sealed).data).toBe(`evidence of ${c}`);
    }
  });

  it("refuses a master key id that is not configured, naming it, and changes nothing", async () => {
    const collection = fresh();
    await seed(collection, ["16505552001", "16505552002"]);
    const rotated = createKeyWrapper([B, A]);
    await expect(
      rewrapDataKeys({ db, wrapper: rotated, from: "m-unknown", collection }),
    ).rejects.toThrow(UnknownMasterKeyError);
    await expect(
      rewrapDataKeys({ db, wrapper: rotated, from: "m-unknown", collection }),
    ).rejects.toThrow(/master key m-unknown is not configured/);
    // The old key already dropped from the configuration: its keys cannot be moved, and say so.
    await expect(
      rewrapDataKeys({ db, wrapper: createKeyWrapper([B]), from: A.id, collection }),
    ).rejects.toThrow(/master key m-2025 is not configured/);
    expect(await countDataKeys(db, collection)).toEqual({
      byMasterKey: { [A.id]: 2 },
      destroyed: 0,
    });
  });

  it("an erasure racing the re-wrap is never undone: a destroyed key is not brought back", async () => {
    const collection = fresh();
    const contacts = Array.from({ length: 60 }, (_, i) => `1650555${String(3000 + i)}`);
    const { store } = await seed(collection, contacts);
    const erased = contacts.filter((_, i) => i % 3 === 0);
    await Promise.all([
      rewrapDataKeys({ db, wrapper: createKeyWrapper([B, A]), from: A.id, batch: 2, collection }),
      (async () => {
        for (const c of erased) await store.destroy(c, new Date());
      })(),
    ]);
    const records = await createKeyStore({
      db,
      wrapper: createKeyWrapper([B]),
      collection,
    }).get(contacts);
    for (const c of contacts)
      expect(records.get(c)?.status, c).toBe(erased.includes(c) ? "destroyed" : "active");
    expect(await countDataKeys(db, collection)).toEqual({
      byMasterKey: { [B.id]: contacts.length - erased.length },
      destroyed: erased.length,
    });
  });

  it("for any set of contacts, erasures and master key ids: live keys move once, destroyed stay, unknown ids are refused", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.stringMatching(/^[0-9]{8,12}$/), { minLength: 0, maxLength: 12 }),
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        fc.oneof(fc.constant(A.id), fc.string({ maxLength: 20 })),
        async (contacts, erase, from) => {
          const collection = fresh();
          const { store } = await seed(collection, contacts);
          const erased = contacts.filter((_, i) => erase[i] === true);
          for (const c of erased) await store.destroy(c, new Date());
          const run = rewrapDataKeys({ db, wrapper: createKeyWrapper([B, A]), from, collection });
          if (from !== A.id && from !== B.id) {
            await expect(run).rejects.toThrow(UnknownMasterKeyError);
            return;
          }
          const live = contacts.length - erased.length;
          expect(await run).toBe(from === A.id ? live : 0);
          const counts = await countDataKeys(db, collection);
          expect(counts.destroyed).toBe(erased.length);
          expect(counts.byMasterKey).toEqual(
            live === 0 ? {} : { [from === A.id ? B.id : A.id]: live },
          );
        },
      ),
      { numRuns: 15 },
    );
  });

  it("parley-consent rewrap moves the keys, and names an unknown id", async () => {
    const collection = "consent_keys";
    await seed(collection, ["16505554001", "16505554002", "16505554003"]);
    const cli = fileURLToPath(new URL("../../../dist/cli.js", import.meta.url));
    const env = {
      ...process.env,
      MONGO_URL: stack.mongoUrl,
      MONGO_DB: dbName,
      OPS_TOKEN: randomBytes(24).toString("hex"),
      CONSENT_MASTER_KEYS: JSON.stringify(
        [B, A].map((k) => ({ id: k.id, key: k.key.toString("base64") })),
      ),
    };
    const run = promisify(execFile);
    const ok = await run(process.execPath, [cli, "rewrap", "--from", A.id], { env });
    expect(ok.stdout).toContain(`re-wrapped 3 data keys from ${A.id} to ${B.id}`);
    expect(ok.stdout).toContain(`master key ${B.id}: 3 data keys`);
    const refused = await run(process.execPath, [cli, "rewrap", "--from", "m-typo"], { env }).then(
      () => undefined,
      (error: unknown) => error as { code: number; stderr: string },
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toContain("master key m-typo is not configured");
    const usage = await run(process.execPath, [cli, "rewrap"], { env }).then(
      () => undefined,
      (error: unknown) => error as { code: number },
    );
    expect(usage?.code).toBe(64);
  }, 60_000);
});
