import { createEvent, exampleData, exampleEvent, type AnyEvent } from "@parley/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startProjectionHarness,
  type ProjectionHarness,
} from "./projection-harness.int-helpers.js";

// Erasure on the real broker, registry and MongoDB-wire server (ADR 0012): after ContactErased
// no stored document holds the person's data, an event about them that comes later is stored
// without it, and a rebuild from the log (where the erasure follows the person's events, on
// another topic) gives the same documents.

const CONTACT = "16505551234";
/** The person in the contracts' examples, and what they wrote or were sent. */
const PERSONAL = [
  CONTACT,
  "+16505551234",
  "Sheena",
  "US.13491208655302741918",
  "Where is my order",
  "Your order 42 has shipped",
  "Still waiting",
  '"STOP"',
  '"START"',
];

let h: ProjectionHarness;

beforeAll(async () => {
  h = await startProjectionHarness("projection-erasure");
});

afterAll(async () => {
  await h.stop();
});

/**
 * What of the person the documents hold. The contact's tombstone and the conversation are keyed
 * by the contact id (as the consent topic is, ADR 0012): their `_id`, and the tombstone's
 * `contactId` and conversation's `key`, are the one place it stays.
 */
function leaks(docs: Record<string, unknown[]>): string[] {
  const found: string[] = [];
  for (const [kind, list] of Object.entries(docs)) {
    for (const doc of list) {
      const fields = Object.entries(doc as Record<string, unknown>).filter(
        ([field]) =>
          !(
            (kind === "contacts" && (field === "_id" || field === "contactId")) ||
            (kind === "conversations" && (field === "_id" || field === "key"))
          ),
      );
      const json = JSON.stringify(Object.fromEntries(fields));
      for (const p of PERSONAL) if (json.includes(p)) found.push(`${kind}: ${p}`);
    }
  }
  return found;
}

const person: AnyEvent[] = [
  exampleEvent("SendRequested"),
  exampleEvent("DispatchMessage"),
  exampleEvent("SendAccepted"),
  exampleEvent("StatusUpdated"),
  exampleEvent("InboundMessageReceived"),
  exampleEvent("ConversationWindowOpened"),
  exampleEvent("MediaStored"),
  exampleEvent("ConsentGranted"),
  exampleEvent("ConsentRevoked"),
];

/** A message the person sends after their erasure (a later record on the inbound topic). */
const later = createEvent(
  "InboundMessageReceived",
  {
    ...exampleData.InboundMessageReceived,
    wamid: "wamid.LATER",
    message: { type: "text", text: { body: "Still waiting" } },
  },
  {
    correlationId: "d-later",
    businessNumber: "106540352242922",
    occurredAt: new Date("2026-03-01T11:00:00.000Z"),
    now: new Date("2026-03-01T11:00:00.000Z"),
  },
);

describe("erasure in the stored read models", () => {
  let live: Awaited<ReturnType<ProjectionHarness["start"]>>;

  it("before the erasure the documents hold the person (the check can see them)", async () => {
    expect(await h.generations.activeOrFirst(new Date())).toBe(1);
    live = await h.start(1);
    await h.publish(person);
    await h.caughtUp(1);
    const docs = await h.dump(1);
    expect(leaks(docs).length).toBeGreaterThan(0);
    expect(docs["messages"]).toHaveLength(2);
  });

  it("after ContactErased no stored document holds their data; the facts the law allows stay", async () => {
    await h.publish([exampleEvent("ContactErased")]);
    await h.caughtUp(1);
    await live.rollup.drain();
    const docs = await h.dump(1);
    expect(leaks(docs)).toEqual([]);
    expect(docs["messages"]).toHaveLength(2);
    expect(docs["requests"]).toHaveLength(1);
    const [contact] = docs["contacts"] as Record<string, unknown>[];
    expect(contact).toMatchObject({ _id: CONTACT, erased: true, ids: [] });
    expect((contact?.["consentHistory"] as { state: string }[]).map((c) => c.state).sort()).toEqual(
      ["granted", "revoked"],
    );
    expect(docs["requests"]?.[0]).toMatchObject({ status: "accepted", erased: true });
    expect(h.deadLetters).toEqual([]);
  });

  it("an event about the person after the erasure is stored without them", async () => {
    await h.publish([later]);
    await h.caughtUp(1);
    const docs = await h.dump(1);
    expect(docs["messages"]).toHaveLength(3);
    expect(leaks(docs)).toEqual([]);
  });

  it("a rebuild from the log gives the same erased documents", async () => {
    await live.rollup.drain();
    const result = await h.rebuild();
    expect(result).toMatchObject({ switched: true });
    const [current, rebuilt] = [await h.dump(1), await h.dump(result.generation)];
    for (const kind of Object.keys(current)) expect(rebuilt[kind], kind).toEqual(current[kind]);
    expect(leaks(rebuilt)).toEqual([]);
  });
});
