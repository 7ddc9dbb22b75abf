import { createEvent, exampleData, type AnyEvent } from "@parley/contracts";
import { createMongo, type MongoConnection } from "@parley/mongo";
import { startStack, type Stack } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyContactEvent } from "./contacts.js";
import { CONTACTS, type ContactDoc } from "./plan-store.js";

// The contacts consumer folds two topics (consent, conversation-windows) that the runner consumes
// side by side, so a contact's consent and window can be folded at the same moment. The consent
// fold used to find no document, let the window's upsert create one, and then "insert only when
// absent": the consent was lost (seen as 211 of 212 contacts folded in the query-audience spec).

let stack: Stack;
let mongo: MongoConnection;

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("campaigns-contacts-fold");
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
}, 120_000);

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

const at = new Date("2026-01-10T10:00:00.000Z");

function consent(contactId: string, type: "ConsentGranted" | "ConsentRevoked"): AnyEvent {
  return createEvent(
    type,
    { ...exampleData[type], contactId, scope: "marketing" },
    { correlationId: `c-${contactId}`, now: at },
  );
}

function window(contactId: string): AnyEvent {
  return createEvent(
    "ConversationWindowOpened",
    {
      ...exampleData.ConversationWindowOpened,
      contactId,
      expiresAt: "2026-01-11T10:00:00.000Z",
    },
    { correlationId: `w-${contactId}`, businessNumber: "400001", now: at },
  );
}

describe("campaign_contacts: a consent and a window folded at the same moment", () => {
  it("keeps both, for every contact, whichever write lands first", async () => {
    const N = 300;
    const ids = Array.from({ length: N }, (_, i) => `3461200${String(i).padStart(4, "0")}`);
    await Promise.all(
      ids.map((id, i) => {
        const c = consent(id, i % 3 === 0 ? "ConsentRevoked" : "ConsentGranted");
        const w = window(id);
        // Both orders of starting the two folds.
        const pair = i % 2 === 0 ? [c, w] : [w, c];
        return Promise.all(pair.map((e) => applyContactEvent(mongo.db, e)));
      }),
    );
    const docs = await mongo.db
      .collection<ContactDoc>(CONTACTS)
      .find({ _id: { $in: ids } })
      .toArray();
    expect(docs).toHaveLength(N);
    const missing = docs.filter(
      (d) => d.marketing === undefined || d.windowExpiresAt === undefined,
    );
    expect(missing.map((d) => d._id)).toEqual([]);
    for (const [i, id] of ids.entries())
      expect(docs.find((d) => d._id === id)?.marketing?.status).toBe(
        i % 3 === 0 ? "revoked" : "granted",
      );
  }, 60_000);

  it("a newer fact kept is not replaced by an older one arriving later, nor by its own repeat", async () => {
    const id = "34612009999";
    const newer = createEvent(
      "ConsentRevoked",
      { ...exampleData.ConsentRevoked, contactId: id, scope: "marketing" },
      { correlationId: "newer", now: new Date(at.getTime() + 60_000) },
    );
    await applyContactEvent(mongo.db, newer);
    await applyContactEvent(mongo.db, consent(id, "ConsentGranted"));
    await applyContactEvent(mongo.db, newer);
    const doc = await mongo.db.collection<ContactDoc>(CONTACTS).findOne({ _id: id });
    expect(doc?.marketing).toEqual({ status: "revoked", at: newer.occurredAt });
  });
});
