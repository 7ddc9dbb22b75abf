import { randomBytes } from "node:crypto";
import type { Keyed } from "@parley/decider";
import { ParleyError } from "@parley/errors";
import { createMongo, type MongoConnection, type StateDocument } from "@parley/mongo";
import { startStack, type Stack } from "@parley/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyExport } from "../../audit/verify.js";
import { createKeyWrapper } from "../../crypto/keys.js";
import type { ConsentCommand, RecordConsent } from "../../ledger/decide.js";
import type { LedgerEntry, LedgerState } from "../../ledger/evolve.js";
import { createConsentLedger } from "../../ledger/ledger.js";
import { createKeyStore } from "./key-store.js";
import {
  createLedgerReader,
  createLedgerStore,
  migrateLedgers,
  type EntryDocument,
} from "./ledger-store.js";

// The ledger's storage (ADR 0012, amended 2026-12-07) on the real MongoDB: a head per contact,
// one document per entry. Its promises broken on purpose: the process dying between the head's
// write and the entries' (at any batch of an import), then the same rows imported again; and a
// ledger stored in the old shape (entries inside the head) migrated and carried on.

class CrashError extends ParleyError {
  override readonly name = "CrashError";
  constructor() {
    super("the process died between the head write and the entries' (injected)", {
      retry: "outage",
    });
  }
}

let stack: Stack;
let mongo: MongoConnection;
beforeAll(async () => {
  stack = await startStack();
  mongo = createMongo({
    url: stack.mongoUrl,
    database: stack.namespace("consent-store").database(),
    appName: "consent-store",
  });
}, 120_000);
afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

const wrapper = createKeyWrapper([{ id: "m1", key: randomBytes(32) }]);
let run = 0;

/** A ledger over fresh collections (or the given ones), crashing after `crashAfter` saves. */
function ledgerOn(
  names: { heads: string; entries: string; keys: string },
  crashAfter = Infinity,
  markDelayMs?: number,
) {
  let saves = 0;
  const published: LedgerEntry[] = [];
  const ledger = createConsentLedger({
    store: createLedgerStore({
      db: mongo.db,
      collection: names.heads,
      entries: names.entries,
      beforeEntries: () => {
        if (++saves > crashAfter) throw new CrashError();
      },
    }),
    reader: createLedgerReader({ db: mongo.db, collection: names.heads, entries: names.entries }),
    keys: createKeyStore({ db: mongo.db, wrapper, collection: names.keys }),
    publish: (events) => {
      published.push(...events);
      return Promise.resolve();
    },
    clock: () => new Date(),
    cacheSize: 0,
    markDelayMs,
  });
  return { ledger, published };
}

const freshNames = () => {
  run++;
  return { heads: `heads_${run}`, entries: `entries_${run}`, keys: `keys_${run}` };
};

const row = (
  contact: string,
  i: number,
  decision: "granted" | "revoked",
): Keyed<ConsentCommand> => {
  const command: RecordConsent = {
    type: "RecordConsent",
    inputId: `import-1:row:${contact}:${String(i)}`,
    decision,
    purposes: i % 3 === 0 ? ["marketing", "utility"] : ["marketing"],
    occurredAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
    channel: "import",
    source: "import",
    recordedBy: "importer",
    businessName: "Acme",
    evidence: { row: String(i), ip: "203.0.113.9" },
  };
  return { key: contact, command };
};

/** Every stored entry document of the run's collection. */
const storedEntries = (names: { entries: string }) =>
  mongo.db.collection<EntryDocument>(names.entries).find({}).toArray();

/** The export of every ledger, as the API writes it, with the verifier's report. */
async function exported(ledger: ReturnType<typeof ledgerOn>["ledger"]) {
  const lines: string[] = [];
  for await (const line of ledger.export({})) lines.push(JSON.stringify(line));
  return { lines, report: verifyExport(lines) };
}

/** Imports rows in batches of `batch` (as the import does), stopping at the first failure. */
async function importRows(
  ledger: ReturnType<typeof ledgerOn>["ledger"],
  rows: readonly Keyed<ConsentCommand>[],
  batch: number,
): Promise<"done" | "crashed"> {
  for (let i = 0; i < rows.length; i += batch) {
    try {
      await ledger.handle(rows.slice(i, i + batch));
    } catch (error) {
      if (error instanceof CrashError) return "crashed";
      throw error;
    }
  }
  return "done";
}

describe("consent ledger storage: a head per contact, an entry per document", () => {
  it("a crash after the head write: readers see the entries, a re-import writes each once, chains verify", async () => {
    const names = freshNames();
    const rows = ["15557000001", "15557000002", "15557000003"].flatMap((c) =>
      Array.from({ length: 6 }, (_, i) => row(c, i, i % 2 === 0 ? "granted" : "revoked")),
    );
    const first = ledgerOn(names, 0);
    expect(await importRows(first.ledger, rows, 500)).toBe("crashed");
    // The heads landed, the entries' documents did not: history comes from the heads' outboxes.
    expect(await storedEntries(names)).toHaveLength(0);
    const history = await first.ledger.history("15557000001");
    const seen: number[] = [];
    for await (const e of history ?? []) seen.push(e.entry.data.ledger?.sequence ?? 0);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    // Restarted: the same rows again. Every entry once, nothing decided twice.
    const second = ledgerOn(names);
    expect(await importRows(second.ledger, rows, 500)).toBe("done");
    expect(second.published.length).toBe(24); // the outbox published, nothing new decided
    const stored = await storedEntries(names);
    expect(stored).toHaveLength(24);
    expect(new Set(stored.map((d) => d.eventId)).size).toBe(24);
    const { report, lines } = await exported(second.ledger);
    expect(report).toMatchObject({ ok: true, entries: 24, contacts: 3 });
    expect(lines.every((l) => l.includes('"opened"'))).toBe(true);
    // Once more, on a ledger that knows nothing in memory: nothing new.
    const third = ledgerOn(names);
    expect(await importRows(third.ledger, rows, 7)).toBe("done");
    expect(third.published).toEqual([]);
    expect(await storedEntries(names)).toHaveLength(24);
  }, 60_000);

  it("for any rows and any crash point, re-importing yields each row's entries exactly once, in order, verified", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            contact: fc.constantFrom("15558000001", "15558000002", "15558000003"),
            decision: fc.constantFrom("granted" as const, "revoked" as const),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 6 }),
        // Deferred marks (the import lane's default): the crashing process never writes the
        // marks it holds; the next one must still store each entry once.
        fc.constantFrom(undefined, 0, 20),
        async (picked, batch, crashAfter, markDelayMs) => {
          const names = freshNames();
          const rows = picked.map((p, i) => row(p.contact, i, p.decision));
          const expected = rows.reduce(
            (n, r) => n + (r.command as RecordConsent).purposes.length,
            0,
          );
          const crashing = ledgerOn(names, crashAfter, markDelayMs);
          await importRows(crashing.ledger, rows, batch);
          const resumed = ledgerOn(names, Infinity, markDelayMs);
          expect(await importRows(resumed.ledger, rows, batch)).toBe("done");
          await resumed.ledger.flush();
          // Every entry decided was published, under one event id each.
          const ids = new Set([...crashing.published, ...resumed.published].map((e) => e.eventId));
          expect(ids.size).toBe(expected);
          const stored = await storedEntries(names);
          expect(stored).toHaveLength(expected);
          expect(new Set(stored.map((d) => d.eventId)).size).toBe(expected);
          // Each row recorded once per purpose, each contact's rows in the order given.
          const byContact = new Map<string, EntryDocument[]>();
          for (const d of stored)
            byContact.set(d.contactId, [...(byContact.get(d.contactId) ?? []), d]);
          for (const [contact, docs] of byContact) {
            const inOrder = docs.sort((a, b) => a.sequence - b.sequence).map((d) => d.inputId);
            const wanted = rows
              .filter((r) => r.key === contact)
              .flatMap((r) => {
                const c = r.command as RecordConsent;
                return c.purposes.map(() => c.inputId);
              });
            expect(inOrder).toEqual(wanted);
          }
          const { report } = await exported(resumed.ledger);
          expect(report.ok, JSON.stringify(report.problems)).toBe(true);
          expect(report.entries).toBe(expected);
        },
      ),
      { numRuns: 12 },
    );
  }, 120_000);

  it("deferred marks: held by a process that dies, the next owner publishes those entries again (same ids) and stores nothing twice", async () => {
    const names = freshNames();
    const rows = ["15557100001", "15557100002"].flatMap((c) =>
      Array.from({ length: 4 }, (_, i) => row(c, i, i % 2 === 0 ? "granted" : "revoked")),
    );
    // Marks held for a minute, and the process "dies" (never flushed).
    const first = ledgerOn(names, Infinity, 60_000);
    expect(await importRows(first.ledger, rows, 500)).toBe("done");
    const decided = first.published.length;
    expect(decided).toBe(12); // rows 0 and 3 of each contact carry two purposes: 6 entries each
    const heads = await mongo.db.collection<StateDocument>(names.heads).find({}).toArray();
    // Saved and published, but not marked: the heads still say their outbox is unpublished.
    expect(heads.every((h) => (h.publishedVersion ?? 0) < h.version)).toBe(true);
    // The next owner, on the same rows: the unmarked outboxes go out again with their ids.
    const second = ledgerOn(names, Infinity, 20);
    expect(await importRows(second.ledger, rows, 500)).toBe("done");
    await second.ledger.flush();
    expect(second.published.map((e) => e.eventId).sort()).toEqual(
      first.published.map((e) => e.eventId).sort(),
    );
    expect(await storedEntries(names)).toHaveLength(decided);
    const marked = await mongo.db.collection<StateDocument>(names.heads).find({}).toArray();
    expect(marked.every((h) => (h.publishedVersion ?? 0) >= h.version)).toBe(true);
    // Marked now: a third owner publishes nothing.
    const third = ledgerOn(names, Infinity, 20);
    expect(await importRows(third.ledger, rows, 3)).toBe("done");
    await third.ledger.flush();
    expect(third.published).toEqual([]);
    const { report } = await exported(third.ledger);
    expect(report).toMatchObject({ ok: true, entries: decided, contacts: 2 });
  }, 60_000);

  it("heads keep a summary of each deciding entry; a head holding whole entries (before) reads alike and is summarised on its next write; a bad summary is refused", async () => {
    const names = freshNames();
    const { ledger } = ledgerOn(names);
    const contact = "15559100001";
    await ledger.handle([
      row(contact, 0, "granted"),
      {
        key: contact,
        command: {
          ...(row(contact, 1, "granted").command as RecordConsent),
          expiresAt: "2030-01-01T00:00:00.000Z",
        },
      },
    ]);
    const heads = mongo.db.collection<StateDocument>(names.heads);
    const stored = await heads.findOne({ _id: contact });
    const deciding = (stored as unknown as { deciding: Record<string, Record<string, unknown>> })
      .deciding;
    // A summary, not the entry: no data, no seal, no wording.
    expect(Object.keys(deciding["marketing"] ?? {}).sort()).toEqual([
      "channel",
      "eventId",
      "expiresAt",
      "occurredAt",
      "source",
      "type",
    ]);
    const view = await ledger.view(contact);
    expect(view.purposes.find((p) => p.purpose === "marketing")).toMatchObject({
      status: "granted",
      expiresAt: "2030-01-01T00:00:00.000Z",
      channel: "import",
      source: "import",
    });
    // The shape before: the whole deciding entries in the head.
    const whole = await mongo.db
      .collection<EntryDocument>(names.entries)
      .find({ eventId: { $in: Object.values(deciding).map((d) => String(d["eventId"])) } })
      .toArray();
    const byId = new Map(whole.map((d) => [d.eventId, d.entry]));
    await heads.updateOne(
      { _id: contact },
      {
        $set: Object.fromEntries(
          Object.entries(deciding).map(([p, d]) => [
            `deciding.${p}`,
            byId.get(String(d["eventId"])),
          ]),
        ),
      },
    );
    expect(await ledger.view(contact)).toEqual(view);
    await ledger.handle([row(contact, 10, "revoked")]);
    const after = await heads.findOne({ _id: contact });
    const rewritten = (after as unknown as { deciding: Record<string, Record<string, unknown>> })
      .deciding;
    expect(rewritten["marketing"]).toMatchObject({ type: "ConsentRevoked" });
    expect("data" in (rewritten["utility"] ?? {})).toBe(false);
    const { report } = await exported(ledger);
    expect(report).toMatchObject({ ok: true, contacts: 1 });
    // A summary that is not one (altered in storage): that contact's reads fail, precisely.
    await heads.updateOne({ _id: contact }, { $set: { "deciding.marketing.type": "Nonsense" } });
    await expect(ledger.view(contact)).rejects.toThrow(/not a ledger entry's summary/);
  }, 60_000);

  it("a ledger stored in the old shape is refused until migrated, then verifies and carries on", async () => {
    const names = freshNames();
    const { ledger } = ledgerOn(names);
    const contact = "15559000001";
    await ledger.handle(Array.from({ length: 4 }, (_, i) => row(contact, i, "granted")));
    // Rebuild the old shape: every entry inside the head document, no entry documents.
    const entries = (await storedEntries(names))
      .sort((a, b) => a.sequence - b.sequence)
      .map((d) => d.entry);
    const heads = mongo.db.collection<StateDocument>(names.heads);
    const head = await heads.findOne({ _id: contact });
    if (head === null) throw new Error("no head");
    await heads.replaceOne(
      { _id: contact },
      {
        _id: contact,
        version: head.version,
        writeId: head.writeId,
        outbox: [],
        publishedVersion: head.version,
        updatedAt: head.updatedAt,
        entries,
        erasedKeyIds: null,
      },
    );
    await mongo.db.collection(names.entries).deleteMany({});
    await expect(ledger.view(contact)).rejects.toThrow(/parley-consent migrate/);

    expect(
      await migrateLedgers({ db: mongo.db, collection: names.heads, entries: names.entries }),
    ).toBe(1);
    expect(
      await migrateLedgers({ db: mongo.db, collection: names.heads, entries: names.entries }),
    ).toBe(0);
    const view = await ledger.view(contact);
    expect(view).toMatchObject({ entries: entries.length, erased: false });
    await ledger.handle([row(contact, 10, "revoked"), row(contact, 0, "granted")]);
    const { report } = await exported(ledger);
    expect(report).toMatchObject({ ok: true, entries: entries.length + 1, contacts: 1 });
    const after = (await ledger.view(contact)).purposes.find((p) => p.purpose === "marketing");
    expect(after?.status).toBe("revoked");
  }, 60_000);

  it("erasure: ContactErased at the chain's end, the evidence of every stored entry unreadable", async () => {
    const names = freshNames();
    const { ledger } = ledgerOn(names);
    const contact = "15559100001";
    await ledger.handle(Array.from({ length: 5 }, (_, i) => row(contact, i, "granted")));
    await ledger.erase(contact, "desk", "dsr-1");
    const { lines, report } = await exported(ledger);
    expect(report.ok).toBe(true);
    expect(lines.some((l) => l.includes('"opened"'))).toBe(false);
    expect(lines.at(-1)).toContain("ContactErased");
    const state: LedgerState | undefined = await createLedgerReader({
      db: mongo.db,
      collection: names.heads,
      entries: names.entries,
    }).get(contact);
    expect(state?.erasedKeyIds).toBeDefined();
  }, 60_000);
});
